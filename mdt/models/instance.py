from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.pathway import PathwayVersionModel
from mdt.models.patient import PatientModel
from mdt.models.types import UTCDateTime


class InstanceStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CLOSED = "closed"  # death, discharge or transfer
    ERROR = "error"


class PathwayInstanceModel(db.Model):  # type: ignore[name-defined,misc]
    """One patient episode on one pathway version, with the engine's saved state."""

    __tablename__ = "pathway_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    pathway_version_id: Mapped[int] = mapped_column(ForeignKey("pathway_version.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=InstanceStatus.RUNNING, index=True)
    state: Mapped[str] = mapped_column(Text)
    state_format: Mapped[int] = mapped_column(default=1)
    error_message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # When care on this pathway ended and why (death, discharge, transfer): the clinical
    # moment recorded in the form (the date of death), not when it was typed. The instance
    # may still run the follow-up tasks (telling the GP, bereavement support) after it.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    lock_version: Mapped[int] = mapped_column(default=1)
    # When the episode's clinical clock started (e.g. the confirmed diagnosis): copied from
    # the first completed form with an ``index_date`` field; reports count from it.
    index_date: Mapped[date | None] = mapped_column(Date, index=True)

    patient: Mapped[PatientModel] = relationship()
    pathway_version: Mapped[PathwayVersionModel] = relationship()

    @property
    def in_care(self) -> bool:
        """Running, and care has not ended (no death, discharge or transfer recorded)."""
        return self.status == InstanceStatus.RUNNING and self.close_reason is None

    # Optimistic locking: an UPDATE that finds another writer got there first fails.
    __mapper_args__ = {"version_id_col": lock_version}
