from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.instance import PathwayInstanceModel
from mdt.models.patient import PatientModel
from mdt.models.types import UTCDateTime
from mdt.models.user import UserModel


class ClosingEventModel(db.Model):  # type: ignore[name-defined,misc]
    """A death, discharge or transfer that closed a patient's pathway, with everything the
    close changed as it stood just before, so that a manager can mark it entered in error and
    the pathway returns to exactly that state.

    ``tasks`` are the open tasks the close cancelled, with their assignee and due date
    (``[{"id", "assigned_to_id", "due_at"}]``); ``created_task_ids`` the tasks the close
    started (a bereavement follow-up); ``timers`` the timer rows (``[{"event_name",
    "due_at"}]``); ``listing_ids`` the MDT listings it took the patient off;
    ``created_episode_ids`` any episode it opened. Nothing here is ever deleted."""

    __tablename__ = "closing_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("pathway_instance.id"), index=True)
    event_name: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(32))  # death, discharge or transfer
    declared: Mapped[bool] = mapped_column(default=True)  # False: the application's own close
    closed_on: Mapped[date | None] = mapped_column(Date)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    # The pathway instance and patient as they were just before.
    state: Mapped[str] = mapped_column(Text)
    state_format: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    date_of_death: Mapped[date | None] = mapped_column(Date)
    tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    timers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    listing_ids: Mapped[list[int]] = mapped_column(JSON)
    # What the close made, filled in once it has run.
    created_task_ids: Mapped[list[int]] = mapped_column(JSON)
    created_episode_ids: Mapped[list[int]] = mapped_column(JSON)

    # Marked entered in error: when, by whom, why, and what was put back.
    corrected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    correction: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    patient: Mapped[PatientModel] = relationship()
    instance: Mapped[PathwayInstanceModel] = relationship()
    recorded_by: Mapped[UserModel | None] = relationship(foreign_keys=[recorded_by_id])
    corrected_by: Mapped[UserModel | None] = relationship(foreign_keys=[corrected_by_id])
