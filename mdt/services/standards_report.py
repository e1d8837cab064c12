"""The standards-of-care report: every KPI over a date range and cohort, its monthly trend,
and behind each number the patients it counts, with why each missed.

All figures are one grouped SQL query over the cases that `report_cases` derives from the
task table; no workflow is ever loaded. Definitions are in `standards_kpis`; outcomes are
classified here with the local periods, so changing a period needs no rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from statistics import median
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true

from mdt import clock
from mdt.extensions import db
from mdt.models import HumanTaskModel, PatientModel, ReportCaseModel, TaskStatus
from mdt.models.roles import Role
from mdt.models.standards import STANDARDS
from mdt.services import report_cases
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from mdt.services.settings import setting
from mdt.services.sql_dates import day_number_at
from mdt.services.standards_kpis import COHORTS, KPIS, KPIS_BY_KEY, Clock, Kpi

REPORT_ROLES = frozenset({Role.MANAGER})
CASE_LIST_LIMIT = 500
AMBER_MARGIN = 10  # percentage points under target that are amber rather than red


class Outcome(StrEnum):
    MET = "met"
    LATE = "late"
    OVERDUE = "overdue"
    NOT_RECORDED = "not_recorded"
    PENDING = "pending"
    NOT_APPLICABLE = "not_applicable"


OUTCOME_LABELS = {
    Outcome.MET: "Met",
    Outcome.LATE: "Done late",
    Outcome.OVERDUE: "Not done, overdue",
    Outcome.NOT_RECORDED: "Done, not recorded",
    Outcome.PENDING: "Not yet due",
    Outcome.NOT_APPLICABLE: "Not applicable",
}
MISSED = (Outcome.LATE, Outcome.OVERDUE, Outcome.NOT_RECORDED)


@dataclass(frozen=True)
class ReportQuery:
    since: date
    until: date
    cohort: str = "all"

    @classmethod
    def parse(cls, since: str | None, until: str | None, cohort: str | None) -> ReportQuery:
        """From form or URL text; the last twelve months by default."""
        errors = {}
        today = clock.today()
        try:
            end = date.fromisoformat(until) if until else today
        except ValueError:
            errors["until"] = "Enter the end date as YYYY-MM-DD, for example 2026-03-31"
            end = today
        try:
            start = date.fromisoformat(since) if since else end - timedelta(days=365)
        except ValueError:
            errors["since"] = "Enter the start date as YYYY-MM-DD, for example 2026-01-01"
            start = end - timedelta(days=365)
        if not errors and start > end:
            errors["since"] = "The start date must be on or before the end date"
        if cohort and cohort not in COHORTS:
            errors["cohort"] = "Select a cohort from the list"
        if errors:
            raise InvalidInputError(errors)
        return cls(start, end, cohort or "all")

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC instants: from midnight of the first day to midnight after the last."""
        since = datetime.combine(self.since, time(), tzinfo=UTC)
        return since, datetime.combine(self.until + timedelta(days=1), time(), tzinfo=UTC)

    def args(self) -> dict[str, str]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "cohort": self.cohort,
        }


@dataclass
class KpiFigure:
    kpi: Kpi
    days: int | None
    target: int
    counts: dict[str, int] = field(default_factory=dict)
    trend: dict[str, dict[str, int]] = field(default_factory=dict)  # month -> outcome -> n

    @property
    def met(self) -> int:
        return self.counts.get(Outcome.MET, 0)

    @property
    def missed(self) -> int:
        return sum(self.counts.get(o, 0) for o in MISSED)

    @property
    def counted(self) -> int:
        return self.met + self.missed

    @property
    def percent(self) -> float | None:
        return round(100 * self.met / self.counted, 1) if self.counted else None

    @property
    def status(self) -> str:
        """green, amber, red, or none when nothing was counted."""
        if self.percent is None:
            return "none"
        if self.percent >= self.target:
            return "green"
        return "amber" if self.percent >= self.target - AMBER_MARGIN else "red"

    def monthly_percents(self, months: list[str]) -> list[float | None]:
        return [self.month_percent(month) for month in months]

    def month_percent(self, month: str) -> float | None:
        row = self.trend.get(month, {})
        met = row.get(Outcome.MET, 0)
        counted = met + sum(row.get(o, 0) for o in MISSED)
        return round(100 * met / counted, 1) if counted else None


@dataclass
class StandardsReport:
    query: ReportQuery
    figures: list[KpiFigure]
    months: list[str]

    def by_standard(self) -> list[tuple[str, str, list[KpiFigure]]]:
        return [
            (code, label, [f for f in self.figures if f.kpi.code == code])
            for code, label in STANDARDS.items()
        ]


@dataclass(frozen=True)
class CaseRow:
    task_id: int
    patient_id: int
    nhs_number: str
    patient_name: str
    task_name: str
    started: datetime | None
    done_at: datetime | None
    outcome: str
    why: str
    days: float | None


def require_report_role(actor: Actor) -> None:
    if not actor.has_role(*REPORT_ROLES):
        raise PermissionDeniedError("Only service managers can see the standards report.")


def _settings_for(kpi: Kpi) -> tuple[int | None, int]:
    days: dict[str, int] = setting("MDT_KPI_DAYS")  # type: ignore[assignment]
    targets: dict[str, int] = setting("MDT_KPI_TARGETS")  # type: ignore[assignment]
    period = days.get(kpi.key, kpi.days) if kpi.days is not None else None
    return period, targets.get(kpi.key, kpi.target)


def _months(since: date, until: date) -> list[str]:
    months, day = [], since.replace(day=1)
    while day <= until:
        months.append(f"{day.year:04d}-{day.month:02d}")
        day = (day + timedelta(days=32)).replace(day=1)
    return months


class _Outcomes:
    """Classifies the projection's cases of some KPIs with their local periods."""

    def __init__(self, kpis: Sequence[Kpi], now: datetime) -> None:
        self.kpis = list(kpis)
        self.days = {kpi.key: _settings_for(kpi)[0] for kpi in self.kpis}
        self.now = now

    def _keys(self, test: Any) -> list[str]:
        return [kpi.key for kpi in self.kpis if test(kpi)]

    def within(self, day: Any) -> ColumnElement[bool]:
        """Whether a moment (a day number) is within the case's period."""
        c = ReportCaseModel
        by_due = self._keys(lambda k: k.clock == Clock.DUE)
        open_ended = self._keys(lambda k: k.clock != Clock.DUE and self.days[k.key] is None)
        limits = {key: days for key, days in self.days.items() if days is not None}
        return case(
            (c.kpi.in_(by_due), or_(c.due_day.is_(None), day <= c.due_day)),
            (c.kpi.in_(open_ended), true()),
            else_=day - c.start_day <= case(limits, value=c.kpi, else_=None) if limits else true(),
        )

    def expression(self) -> ColumnElement[str]:
        c = ReportCaseModel
        done, closed = c.done_day, c.closed_day
        no_deadline = c.kpi.in_(
            self._keys(lambda k: k.clock != Clock.DUE and self.days[k.key] is None)
        )
        return case(
            (and_(done.is_not(None), c.recorded, self.within(done)), Outcome.MET.value),
            (and_(done.is_not(None), ~c.recorded), Outcome.NOT_RECORDED.value),
            (done.is_not(None), Outcome.LATE.value),
            (and_(closed.is_not(None), self.within(closed)), Outcome.NOT_APPLICABLE.value),
            (
                and_(c.status == TaskStatus.CANCELLED, closed.is_(None)),
                Outcome.NOT_APPLICABLE.value,
            ),
            (or_(no_deadline, self.within(day_number_at(self.now))), Outcome.PENDING.value),
            else_=Outcome.OVERDUE.value,
        )


def _cases_in(query: ReportQuery, kpis: Sequence[Kpi]) -> list[ColumnElement[bool]]:
    c = ReportCaseModel
    since, until = query.bounds()
    where = [c.start_at >= since, c.start_at < until, c.kpi.in_([kpi.key for kpi in kpis])]
    if query.cohort != "all":
        where.append(c.cohort == query.cohort)
    return where


def _ensure_projection() -> None:
    """After an upgrade that changed the measures, derive every case again (once)."""
    if not report_cases.is_current():
        report_cases.rebuild_cases()
        db.session.commit()


def rebuild_projection(actor: Actor) -> int:
    """Derive every case of the report again (operators, after an upgrade); returns how many."""
    cases = report_cases.rebuild_cases()
    record_event(actor, "report.rebuilt", object_type="report", detail={"cases": cases})
    db.session.commit()
    return cases


def _figures(kpis: Sequence[Kpi], query: ReportQuery, now: datetime) -> list[KpiFigure]:
    """Every KPI's counts and monthly trend, from one grouped query over the projection."""
    figures = {}
    for kpi in kpis:
        days, target = _settings_for(kpi)
        figures[kpi.key] = KpiFigure(kpi, days, target)
    c = ReportCaseModel
    # The outcome is worked out once per case, then grouped.
    classified = (
        select(c.kpi, c.month, _Outcomes(kpis, now).expression().label("outcome"))
        .where(*_cases_in(query, kpis))
        .subquery()
    )
    k = classified.c
    stmt = select(k.kpi, k.month, k.outcome, func.count()).group_by(k.kpi, k.month, k.outcome)
    for key, month, outcome, count in db.session.execute(stmt):
        figure = figures[key]
        figure.counts[outcome] = figure.counts.get(outcome, 0) + count
        figure.trend.setdefault(month, {})[outcome] = count
    return list(figures.values())


def standards_report(actor: Actor, query: ReportQuery) -> StandardsReport:
    require_report_role(actor)
    _ensure_projection()
    figures = _figures(KPIS, query, clock.now())
    return StandardsReport(query, figures, _months(query.since, query.until))


def kpi_cases(
    actor: Actor, key: str, query: ReportQuery, outcome: str | None = None
) -> tuple[KpiFigure, list[CaseRow]]:
    """The patients behind one KPI, oldest first, with why; outcome narrows to one
    outcome, or "missed" to every way of missing it."""
    require_report_role(actor)
    kpi = KPIS_BY_KEY.get(key)
    if kpi is None:
        raise NotFoundError("There is no such measure.")
    if outcome and outcome != "missed" and outcome not in OUTCOME_LABELS:
        raise InvalidInputError({"outcome": "Select an outcome from the list"})
    _ensure_projection()
    now = clock.now()
    (figure,) = _figures([kpi], query, now)
    days = figure.days
    c = ReportCaseModel
    outcome_ = _Outcomes([kpi], now).expression()
    stmt = (
        select(
            c.task_id,
            c.patient_id,
            PatientModel.nhs_number,
            PatientModel.family_name,
            PatientModel.given_name,
            HumanTaskModel.name,
            c.start_at,
            c.done_at,
            outcome_,
            c.due_at,
            c.close_reason,
            c.closed_at,
        )
        .join(PatientModel, PatientModel.id == c.patient_id)
        .join(HumanTaskModel, HumanTaskModel.id == c.task_id)
        .where(*_cases_in(query, [kpi]))
        .order_by(c.start_at, c.task_id)
    )
    if outcome == "missed":
        stmt = stmt.where(outcome_.in_([o.value for o in MISSED]))
    elif outcome:
        stmt = stmt.where(outcome_ == outcome)
    rows = [_case_row(kpi, days, row) for row in db.session.execute(stmt.limit(CASE_LIST_LIMIT))]
    record_event(
        actor,
        "report.cases_viewed",
        object_type="kpi",
        object_id=key,
        detail={**query.args(), "outcome": outcome or "all", "patients": len(rows)},
    )
    db.session.commit()
    return figure, rows


def _moment(value: Any) -> datetime | None:
    """Timestamps from raw SQL columns: text on SQLite, aware datetimes on PostgreSQL."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):  # a date: midnight
        value = datetime.combine(value, time())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _case_row(kpi: Kpi, days: int | None, row: Any) -> CaseRow:
    (task_id, patient_id, nhs, family, given, name, start, done, outcome, due, reason, closed) = row
    start, done = _moment(start), _moment(done)
    elapsed = (done - start).total_seconds() / 86400 if start and done else None
    return CaseRow(
        task_id,
        patient_id,
        nhs,
        f"{family.upper()}, {given}",
        name,
        start,
        done,
        outcome,
        _why(kpi, days, outcome, elapsed, due, reason, _moment(closed)),
        round(elapsed, 1) if elapsed is not None else None,
    )


def _why(
    kpi: Kpi,
    days: int | None,
    outcome: str,
    elapsed: float | None,
    due: datetime | None,
    reason: str | None,
    closed: datetime | None,
) -> str:
    limit = f"within {days} days" if days is not None else "by its due date"
    if outcome == Outcome.MET:
        return "Done " + limit
    if outcome == Outcome.LATE:
        return (
            f"Done after {elapsed:.0f} days, not {limit}" if elapsed else f"Done late, not {limit}"
        )
    if outcome == Outcome.NOT_RECORDED:
        return kpi.condition.missed_label if kpi.condition else "Not recorded"
    if outcome == Outcome.NOT_APPLICABLE:
        if closed:
            return f"Pathway closed ({(reason or 'closed').replace('_', ' ')}) before it was due"
        return "No longer needed on the pathway"
    if outcome == Outcome.PENDING:
        return f"Still open, due {due:%d %b %Y}" if due else "Still open, not yet due"
    return "Still not done, overdue"


def median_days(rows: list[CaseRow]) -> float | None:
    values = [r.days for r in rows if r.days is not None]
    return round(median(values), 1) if values else None
