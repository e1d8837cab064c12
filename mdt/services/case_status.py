"""The status of a standards case today, in the words clinicians use; defined once, in SQL, for
every view (scorecard, dashboard, drill-downs, CSV, API, FHIR) to read.

- met: the evidence, dated on or before the deadline;
- met late: the evidence, after the deadline;
- declined: the patient declined, was undecided or unable, or objects (offered: shown apart);
- overdue: the deadline has passed and the episode still has open a task that could evidence
  it, or one that must come first (the care plan's treatment planning consultation);
- missed: the deadline has passed and nothing is open (never offered, or not done as the rule
  asks); without a deadline, done but not as the rule asks;
- pending: not yet due;
- not applicable: not eligible, or care ended (death, transfer, discharge) on or before the
  deadline with nothing done; except end-of-life care a measure says a death does not excuse
  (palliative referral and information, family support, advance care planning): missed.

Met and declined count as achieved; met late, missed and overdue as not; pending and not
applicable are not counted. docs/standards-report.md says the same, and a test checks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, literal, or_

from mdt.models import ReportCaseModel
from mdt.services.report_cases import CLOSE_WORDS, day_number


class Status(StrEnum):
    MET = "met"
    MET_LATE = "met_late"
    DECLINED = "declined"
    OVERDUE = "overdue"
    MISSED = "missed"
    PENDING = "pending"
    NOT_APPLICABLE = "not_applicable"


LABELS = {
    Status.MET: "Met",
    Status.MET_LATE: "Met late",
    Status.DECLINED: "Declined by the patient",
    Status.OVERDUE: "Overdue",
    Status.MISSED: "Missed",
    Status.PENDING: "Pending",
    Status.NOT_APPLICABLE: "Not applicable",
}
TAGS = {  # NHS.UK tag colours
    Status.MET: "green",
    Status.MET_LATE: "yellow",
    Status.DECLINED: "blue",
    Status.OVERDUE: "red",
    Status.MISSED: "red",
    Status.PENDING: "grey",
    Status.NOT_APPLICABLE: "white",
}
ACHIEVED = (Status.MET, Status.DECLINED)
NOT_ACHIEVED = (Status.MET_LATE, Status.MISSED, Status.OVERDUE)
COUNTED = ACHIEVED + NOT_ACHIEVED


def status_expression(today: date) -> ColumnElement[str]:
    c = ReportCaseModel
    now = literal(day_number(today))
    no_deadline = c.deadline_day.is_(None)
    return case(
        (c.na_reason.is_not(None), Status.NOT_APPLICABLE.value),
        (
            and_(c.outcome.is_not(None), or_(no_deadline, c.done_day <= c.deadline_day)),
            c.outcome,
        ),
        (c.outcome.is_not(None), Status.MET_LATE.value),
        (and_(c.missed_if_died, c.closed_day.is_not(None)), Status.MISSED.value),
        (
            and_(
                c.closed_day.is_not(None),
                or_(
                    and_(no_deadline, c.not_met.is_(None)),
                    c.closed_day <= c.deadline_day,
                ),
            ),
            Status.NOT_APPLICABLE.value,
        ),
        (and_(no_deadline, c.not_met.is_not(None)), Status.MISSED.value),
        (
            and_(c.deadline_day.is_not(None), now > c.deadline_day),
            case((c.open, Status.OVERDUE.value), else_=Status.MISSED.value),
        ),
        else_=Status.PENDING.value,
    )


def _long(day: date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day else ""


def _elapsed(days: int) -> str:
    if days == 0:
        return "the day its clock started"
    if days < 0:  # dated before the event it answers: the dates recorded disagree
        return f"{-days} day{'s' if days != -1 else ''} before its clock started"
    return f"{days} day{'s' if days != 1 else ''} after its clock started"


@dataclass(frozen=True)
class CaseView:
    """One case as every view shows it."""

    row: Any  # a ReportCaseModel
    status: Status

    @property
    def label(self) -> str:
        if self.status == Status.DECLINED and self.row.outcome_label:
            return str(self.row.outcome_label)
        if self.status == Status.MET_LATE and self.row.outcome == "declined":
            return "Offered late"  # and declined: not met late
        return LABELS[self.status]

    @property
    def tag(self) -> str:
        return TAGS[self.status]

    @property
    def why(self) -> str:
        row = self.row
        due = f"due by {_long(row.deadline_on)}" if row.deadline_on else "no deadline"
        start, done = row.start_on, row.done_on
        elapsed = _elapsed((done - start).days) if done else ""
        if self.status == Status.MET:
            return f"Done on {_long(done)}, {elapsed}"
        if self.status == Status.DECLINED:
            then = f"; then {row.afterwards}" if row.afterwards else ""
            return f"{row.outcome_label or 'Declined'} on {_long(done)}, {elapsed}{then}"
        if self.status == Status.MET_LATE:
            what = f" ({row.outcome_label.lower()})" if row.outcome_label else ""
            return f"Done on {_long(done)}{what}, {elapsed}, after its deadline of {_long(row.deadline_on)}"
        if self.status == Status.OVERDUE:
            return f"Still open: it was {due}"
        if self.status == Status.MISSED:
            if row.missed_if_died and row.closed_on:
                return f"Died on {_long(row.closed_on)} before it was done"
            if row.not_met:
                if row.deadline_on:
                    return f"{row.not_met}; nothing that counts by {_long(row.deadline_on)}"
                return str(row.not_met)
            return f"Not done: it was {due}"
        if self.status == Status.NOT_APPLICABLE:
            if row.na_reason:
                return str(row.na_reason)
            word = CLOSE_WORDS.get(row.close_reason or "", "Care ended")
            return f"{word} on {_long(row.closed_on)}, before it was due"
        return f"Not done yet: {due}" if row.deadline_on else "Not done yet"

    @property
    def recorded_late(self) -> str:
        days = self.row.recorded_late_days
        return (
            f"Recorded {days} day{'s' if days != 1 else ''} after the date it records"
            if days
            else ""
        )
