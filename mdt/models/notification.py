from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.patient import PatientModel
from mdt.models.task import HumanTaskModel
from mdt.models.types import UTCDateTime


class NotificationModel(db.Model):  # type: ignore[name-defined,misc]
    """Something someone should know about. Either a task (new, due soon or overdue: one row
    per person, task and kind, so several schedulers inserting at once cannot notify twice),
    or an event written once by the use case it happened in (a patient's pathway paused, a
    patient taken off an MDT list), with its words and the thing to open."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("user_id", "task_id", "kind"),
        Index("ix_notification_unread", "user_id", "read_at"),
        Index("ix_notification_unsent", "emailed_at", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    kind: Mapped[str] = mapped_column(String(16))  # new, due_soon, overdue; paused, off_list
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))
    # What to open for an event: "pathway_version" (its operations page) or "meeting".
    subject: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    message: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    task: Mapped[HumanTaskModel | None] = relationship()
    patient: Mapped[PatientModel | None] = relationship()
