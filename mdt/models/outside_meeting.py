from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.patient import PatientModel
from mdt.models.task import HumanTaskModel
from mdt.models.types import UTCDateTime
from mdt.models.user import UserModel


class OutsideMeetingDecisionModel(db.Model):  # type: ignore[name-defined,misc]
    """An MDT outcome decided outside a meeting: declared as such when its task was completed,
    with why and the clinicians who decided. Outcomes at a meeting have a confirmed listing
    instead; every completed MDT outcome task has one or the other."""

    __tablename__ = "outcome_outside_meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    # [{"name": ..., "discipline": ...}], in the order given.
    clinicians: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    # The clinical date of the decision (the form's dated-by-the-meeting field), else the day
    # it was recorded.
    decided_on: Mapped[date] = mapped_column(Date, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    task: Mapped[HumanTaskModel] = relationship()
    patient: Mapped[PatientModel] = relationship()
    recorded_by: Mapped[UserModel | None] = relationship()
