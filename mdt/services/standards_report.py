"""The standards-of-care report: every KPI over a date range and cohort, its monthly trend,
and behind each number the patients it counts, with why each missed.

All figures are aggregated in SQL over the task table (one grouped query per KPI); no
workflow is ever loaded. Definitions are in `standards_kpis`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from statistics import median
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true
from sqlalchemy.orm import aliased

from mdt.extensions import db
from mdt.models import HumanTaskModel, PathwayInstanceModel, PatientModel, TaskStatus
from mdt.models.roles import Role
from mdt.models.standards import STANDARDS
from mdt.models.types import utcnow
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from mdt.services.settings import setting
from mdt.services.sql_dates import Expr, as_timestamp, at, days_between, month_of
from mdt.services.standards_kpis import (
    COHORT_CALL_PATHS,
    COHORTS,
    KPIS,
    KPIS_BY_KEY,
    Clock,
    Kpi,
)

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
        today = utcnow().date()
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


class _KpiSql:
    """The SQL of one KPI, in two levels so that each join is computed once per case.

    ``cases`` is a subquery with one row per case: where its clock started, when the
    evidence was done, whether the form recorded what it should, and whether the pathway
    closed. ``outcome`` classifies those columns.
    """

    def __init__(self, kpi: Kpi, days: int | None, now: datetime, query: ReportQuery) -> None:
        self.kpi, self.days, self.now = kpi, days, now
        self.cases = self._cases(query)
        self.outcome = self._outcome()

    def _cases(self, query: ReportQuery) -> Any:
        kpi = self.kpi
        case_ = aliased(HumanTaskModel, name="kpi_case")
        instance = aliased(PathwayInstanceModel, name="kpi_instance")
        stmt = select().select_from(case_).join(instance, instance.id == case_.instance_id)
        if kpi.clock == Clock.INDEX:
            start: Any = as_timestamp(instance.index_date)
            month: Any = month_of(start)
            stmt = stmt.where(
                instance.index_date >= query.since, instance.index_date <= query.until
            )
        else:
            start, month = case_.created_at, month_of(case_.created_at)
            since, until = query.bounds()
            stmt = stmt.where(case_.created_at >= since, case_.created_at < until)
        if kpi.evidence_tasks:
            evidence = aliased(HumanTaskModel, name="kpi_evidence")
            stmt = stmt.outerjoin(
                evidence,
                and_(
                    evidence.instance_id == case_.instance_id,
                    evidence.call_path == case_.call_path,
                    evidence.bpmn_id.in_(kpi.evidence_tasks),
                    evidence.status == TaskStatus.COMPLETED,
                    evidence.created_at >= case_.created_at,
                ),
            ).group_by(case_.id, instance.id)
            done_at: Any = func.min(evidence.completed_at)
        else:
            done_at = case((case_.status == TaskStatus.COMPLETED, case_.completed_at))
        stmt = stmt.add_columns(
            case_.id.label("task_id"),
            case_.patient_id.label("patient_id"),
            case_.name.label("name"),
            case_.status.label("status"),
            case_.due_at.label("due_at"),
            start.label("start"),
            month.label("month"),
            done_at.label("done_at"),
            self._recorded(case_).label("recorded"),
            instance.closed_at.label("closed_at"),
            instance.close_reason.label("close_reason"),
        ).where(case_.bpmn_id.in_(kpi.case_tasks))
        # Materialised, so that each case's joins and JSON reads happen once, not once per
        # reference in the outcome below (SQLite would otherwise flatten the subquery).
        return (
            self._in_cohort(stmt, case_, query.cohort).cte("kpi_cases").prefix_with("MATERIALIZED")
        )

    def _recorded(self, case_: Any) -> ColumnElement[bool]:
        condition = self.kpi.condition
        if condition is None:
            return true()
        value = case_.data[condition.field]
        if condition.yes:
            return value.as_boolean() == True  # noqa: E712 - SQL, not Python
        text = value.as_string()
        if condition.values:
            return text.in_(condition.values)
        return and_(text.is_not(None), func.trim(text) != "")

    def _in_cohort(self, stmt: Select[Any], case_: Any, cohort: str) -> Select[Any]:
        call_path = case_.call_path
        if cohort in COHORT_CALL_PATHS:
            return stmt.where(or_(*(call_path.like(f"{p}%") for p in COHORT_CALL_PATHS[cohort])))
        if cohort == "new" and self.kpi.clock != Clock.INDEX:
            prefixes = [p for paths in COHORT_CALL_PATHS.values() for p in paths]
            return stmt.where(and_(*(~call_path.like(f"{p}%") for p in prefixes)))
        return stmt

    def within(self, moment: Expr) -> ColumnElement[bool]:
        c = self.cases.c
        if self.kpi.clock == Clock.DUE:
            return or_(c.due_at.is_(None), moment <= c.due_at)
        if self.days is None:
            return true()
        return days_between(c.start, moment) <= self.days

    def _outcome(self) -> ColumnElement[str]:
        c = self.cases.c
        done, closed = c.done_at, c.closed_at
        has_deadline = self.kpi.clock == Clock.DUE or self.days is not None
        recorded = c.recorded == True  # noqa: E712 - SQL, not Python
        return case(
            (and_(done.is_not(None), recorded, self.within(done)), Outcome.MET.value),
            (done.is_not(None) & ~recorded, Outcome.NOT_RECORDED.value),
            (done.is_not(None), Outcome.LATE.value),
            (and_(closed.is_not(None), self.within(closed)), Outcome.NOT_APPLICABLE.value),
            (
                and_(c.status == TaskStatus.CANCELLED, closed.is_(None)),
                Outcome.NOT_APPLICABLE.value,
            ),
            (self.within(at(self.now)) if has_deadline else true(), Outcome.PENDING.value),
            else_=Outcome.OVERDUE.value,
        )


def _figure(kpi: Kpi, query: ReportQuery, now: datetime) -> KpiFigure:
    days, target = _settings_for(kpi)
    sql = _KpiSql(kpi, days, now, query)
    month = sql.cases.c.month
    figure = KpiFigure(kpi, days, target)
    stmt = select(month, sql.outcome, func.count()).group_by(month, sql.outcome)
    for month_, outcome, count in db.session.execute(stmt):
        figure.counts[outcome] = figure.counts.get(outcome, 0) + count
        figure.trend.setdefault(month_, {})[outcome] = count
    return figure


def standards_report(actor: Actor, query: ReportQuery) -> StandardsReport:
    require_report_role(actor)
    now = utcnow()
    figures = [_figure(kpi, query, now) for kpi in KPIS]
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
    now = utcnow()
    figure = _figure(kpi, query, now)
    days = figure.days
    sql = _KpiSql(kpi, days, now, query)
    c = sql.cases.c
    stmt = (
        select(
            c.task_id,
            c.patient_id,
            PatientModel.nhs_number,
            PatientModel.family_name,
            PatientModel.given_name,
            c.name,
            c.start,
            c.done_at,
            sql.outcome,
            c.due_at,
            c.close_reason,
            c.closed_at,
        )
        .join(PatientModel, PatientModel.id == c.patient_id)
        .order_by(c.start, c.task_id)
    )
    if outcome == "missed":
        stmt = stmt.where(sql.outcome.in_([o.value for o in MISSED]))
    elif outcome:
        stmt = stmt.where(sql.outcome == outcome)
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
