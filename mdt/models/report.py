"""The standards' cases: one row per case of each measure, for each patient and episode.

Like the task table, it is derived (from the tasks, episodes, meetings and the pathway's
measures) and can be rebuilt at any time; it holds no fact of its own. Every view of the
standards reads it: the patient's scorecard, the dashboard and its drill-downs, the CSVs,
the API and the FHIR export, so they cannot disagree. What a case's status is *today* (met,
met late, missed, overdue, pending, declined, not applicable) is worked out when it is read,
from the dates stored here.

Dates are London dates, and each is also stored as a day number (days since 1970-01-01) so
that SQL compares plain integers on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mdt.extensions import db
from mdt.models.types import UTCDateTime


class ReportCaseModel(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "report_case"
    __table_args__ = (
        # The dashboard reads the period's cases from this index alone.
        Index(
            "ix_report_case_period",
            "start_on",
            "measure",
            "cohort",
            "month",
            "outcome",
            "na_reason",
            "not_met",
            "open",
            "start_day",
            "deadline_day",
            "done_day",
            "closed_day",
            "missed_if_died",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(8))
    instance_id: Mapped[int] = mapped_column(ForeignKey("pathway_instance.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id"))
    cohort: Mapped[str] = mapped_column(String(40))  # the episode's kind
    # The task that opened the case (for measures counted per task), and the one that
    # evidences it (met, declined, or done but not meeting the rule).
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    evidence_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    start_on: Mapped[date] = mapped_column(Date)
    month: Mapped[str] = mapped_column(String(7))
    deadline_on: Mapped[date | None] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    # "met" or "declined" when the evidence says so; the words of the answer given.
    outcome: Mapped[str | None] = mapped_column(String(12))
    outcome_label: Mapped[str] = mapped_column(String(200), default="")
    # What the patient decided later, after declining in time (e.g. "accepted on 3 May 2026").
    afterwards: Mapped[str | None] = mapped_column(String(200))
    # Done, but not as the rule asks (e.g. "Recorded as not offered").
    not_met: Mapped[str | None] = mapped_column(String(200))
    # A task that could still evidence it, or must come first, is waiting for someone: which.
    open: Mapped[bool] = mapped_column(default=False)
    open_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    na_reason: Mapped[str | None] = mapped_column(String(100))  # e.g. "Not eligible"
    # The patient died before it was done, and the measure does not excuse that.
    missed_if_died: Mapped[bool] = mapped_column(default=False)
    # The evidence was entered this many days after the date it records.
    recorded_late_days: Mapped[int | None]
    start_day: Mapped[int]
    deadline_day: Mapped[int | None]
    done_day: Mapped[int | None]
    closed_day: Mapped[int | None]


class ReportProjectionModel(db.Model):  # type: ignore[name-defined,misc]
    """Which measure definitions the projection was built with (one row per projection)."""

    __tablename__ = "report_projection"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
