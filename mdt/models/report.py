"""The reporting projection: one row per case of each standards-of-care measure.

Like the task table, it is derived (here from the task and instance tables) and can be
rebuilt from them at any time; it holds no fact of its own. It exists so that the standards
dashboard reads one narrow table instead of joining tasks, instances and forms per measure.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mdt.extensions import db
from mdt.models.types import UTCDateTime


class ReportCaseModel(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "report_case"
    __table_args__ = (
        # The dashboard reads the period's cases from this index alone.
        Index(
            "ix_report_case_period",
            "start_at",
            "kpi",
            "cohort",
            "month",
            "status",
            "recorded",
            "start_day",
            "done_day",
            "closed_day",
            "due_day",
        ),
        Index("ix_report_case_kpi", "kpi", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("pathway_instance.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    cohort: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # of the case task
    recorded: Mapped[bool]
    # Moments, and the same as days since 1970 (UTC, with fractions) so the report compares
    # plain numbers; start is the clock's start (the index date or the task's creation).
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    month: Mapped[str | None] = mapped_column(String(7))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    start_day: Mapped[float | None] = mapped_column(Float)
    done_day: Mapped[float | None] = mapped_column(Float)
    due_day: Mapped[float | None] = mapped_column(Float)
    closed_day: Mapped[float | None] = mapped_column(Float)


class ReportProjectionModel(db.Model):  # type: ignore[name-defined,misc]
    """Which measure definitions the projection was built with (one row per projection)."""

    __tablename__ = "report_projection"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
