from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.instance import PathwayInstanceModel
from mdt.models.patient import PatientModel
from mdt.models.types import UTCDateTime
from mdt.models.user import UserModel


class TaskStatus(StrEnum):
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class HumanTaskModel(db.Model):  # type: ignore[name-defined,misc]
    """A projection of each instance's human tasks, rebuilt at every save.

    Worklists are plain indexed queries on this table; they never load a workflow.
    Completed rows keep who did what and the data they submitted.
    """

    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id"),
        # Covers worklist filters, counts and ordering without touching the table rows.
        Index("ix_human_task_worklist", "status", "role", "due_at", "assigned_to_id"),
        Index("ix_human_task_assignee", "assigned_to_id", "status"),
        # The worklist's task filter: the names waiting in a view, from the index alone.
        Index("ix_human_task_names", "status", "role", "name", "assigned_to_id"),
        Index("ix_human_task_instance", "instance_id", "status"),
        # The standards report: cases by BPMN id and date, read from the index alone.
        Index(
            "ix_human_task_report",
            "bpmn_id",
            "created_at",
            "instance_id",
            "status",
            "completed_at",
            "due_at",
            "patient_id",
        ),
        Index("ix_human_task_instance_bpmn", "instance_id", "bpmn_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("pathway_instance.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    process_id: Mapped[str] = mapped_column(String(200))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str | None] = mapped_column(String(32))
    lane: Mapped[str | None] = mapped_column(String(200))
    form: Mapped[str | None] = mapped_column(String(200))
    standards: Mapped[str] = mapped_column(String(200), default="")
    call_path: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # The task's mdtStep property (referral, outcome, gp-letter): how the MDT screens find it.
    mdt_step: Mapped[str | None] = mapped_column(String(32), index=True)
    instructions: Mapped[str] = mapped_column(Text, default="")
    # The episode of care the task belongs to, and the task data its diagram asked to show
    # beside it (showData: e.g. the MDT referral on the outcome task).
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id"), index=True)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.READY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    draft_saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    draft_saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    instance: Mapped[PathwayInstanceModel] = relationship()
    patient: Mapped[PatientModel] = relationship()
    assigned_to: Mapped[UserModel | None] = relationship(foreign_keys=[assigned_to_id])
    completed_by: Mapped[UserModel | None] = relationship(foreign_keys=[completed_by_id])

    @property
    def standard_codes(self) -> list[str]:
        return [code for code in self.standards.split(",") if code]


class TimerModel(db.Model):  # type: ignore[name-defined,misc]
    """Timers each instance waits on, copied from the engine at every save, polled by due_at."""

    __tablename__ = "pathway_timer"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("pathway_instance.id"), index=True)
    event_name: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
