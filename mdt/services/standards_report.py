"""The standards-of-care report: every measure over a date range and cohort, its monthly trend,
and behind each number the patients it counts, with why.

All figures are one grouped SQL query over the cases `report_cases` derives; each case's
status today is `case_status.status_expression`, the same one the patient's scorecard, the
API and the FHIR export read. A case counts in the period its clock started in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any

from sqlalchemy import ColumnElement, func, select

from mdt import clock
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    PathwayInstanceModel,
    PathwayVersionModel,
    PatientModel,
    ReportCaseModel,
)
from mdt.models.roles import Role
from mdt.services import report_cases
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.case_status import ACHIEVED, COUNTED, LABELS, NOT_ACHIEVED, CaseView, Status
from mdt.services.case_status import status_expression as _status
from mdt.services.episodes import episode_labels
from mdt.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from mdt.services.measure_words import MeasureWords, describe
from mdt.services.measure_words import deadline_words as _deadline_words
from mdt.services.measures import Measure
from mdt.services.pathway_choice import startable_pathways
from mdt.services.pathways import DEFAULT_PATHWAY_KEY, current_version, engine_for, measures_for
from mdt.services.settings import setting

REPORT_ROLES = frozenset({Role.MANAGER})
CASE_LIST_LIMIT = 500
AMBER_MARGIN = 10  # percentage points under target that are amber rather than red
MISSED_FILTER = "not_achieved"


def catalogue(key: str = DEFAULT_PATHWAY_KEY) -> tuple[Measure, ...]:
    """The measures the report shows: those of the pathway's current version."""
    version = current_version(key)
    return measures_for(version) if version is not None else ()


def cohorts(key: str = DEFAULT_PATHWAY_KEY) -> dict[str, str]:
    """'all', then each kind of episode the pathway has, in its own words."""
    found = {"all": "All episodes"}
    version = current_version(key)
    if version is not None:
        found.update(episode_labels(version, engine_for(version).pathway))
    return found


def measured_pathways() -> dict[str, str]:
    """The published pathways that declare measures (key: title), the default first: what
    the report's pathway chooser offers."""
    return {
        choice.key: choice.title
        for choice in startable_pathways()
        if catalogue(choice.key) or choice.key == DEFAULT_PATHWAY_KEY
    }


@dataclass(frozen=True)
class ReportQuery:
    since: date
    until: date
    cohort: str = "all"
    pathway: str = DEFAULT_PATHWAY_KEY  # each pathway's report counts its own cases only

    @classmethod
    def parse(
        cls, since: str | None, until: str | None, cohort: str | None, pathway: str | None = None
    ) -> ReportQuery:
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
        pathway = pathway or DEFAULT_PATHWAY_KEY
        if pathway != DEFAULT_PATHWAY_KEY and pathway not in measured_pathways():
            errors["pathway"] = "Select a pathway from the list"
            pathway = DEFAULT_PATHWAY_KEY
        if cohort and cohort not in cohorts(pathway):
            errors["cohort"] = "Select a cohort from the list"
        if errors:
            raise InvalidInputError(errors)
        return cls(start, end, cohort or "all", pathway)

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC instants: from midnight of the first day to midnight after the last."""
        since = datetime.combine(self.since, time(), tzinfo=UTC)
        return since, datetime.combine(self.until + timedelta(days=1), time(), tzinfo=UTC)

    def args(self) -> dict[str, str]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "cohort": self.cohort,
            **({"pathway": self.pathway} if self.pathway != DEFAULT_PATHWAY_KEY else {}),
        }


@dataclass
class MeasureFigure:
    measure: Measure
    target: int
    counts: dict[str, int] = field(default_factory=dict)
    trend: dict[str, dict[str, int]] = field(default_factory=dict)  # month -> status -> n

    @property
    def achieved(self) -> int:
        return sum(self.counts.get(s, 0) for s in ACHIEVED)

    @property
    def not_achieved(self) -> int:
        return sum(self.counts.get(s, 0) for s in NOT_ACHIEVED)

    @property
    def counted(self) -> int:
        return self.achieved + self.not_achieved

    @property
    def percent(self) -> float | None:
        return round(100 * self.achieved / self.counted, 1) if self.counted else None

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
        achieved = sum(row.get(s, 0) for s in ACHIEVED)
        counted = sum(row.get(s, 0) for s in COUNTED)
        return round(100 * achieved / counted, 1) if counted else None


@dataclass
class StandardsReport:
    query: ReportQuery
    figures: list[MeasureFigure]
    months: list[str]

    def by_standard(self) -> list[tuple[str, str, list[MeasureFigure]]]:
        """The standards the pathway measures, titled as its measures.json declares them, in
        the order of its measures."""
        titles = {f.measure.code: f.measure.standard for f in self.figures}
        return [
            (code, label, [f for f in self.figures if f.measure.code == code])
            for code, label in titles.items()
        ]


@dataclass(frozen=True)
class CaseRow:
    view: CaseView
    patient_id: int
    nhs_number: str
    patient_name: str
    task_id: int | None
    task_name: str

    @property
    def days(self) -> int | None:
        row = self.view.row
        return (row.done_on - row.start_on).days if row.done_on else None


def require_report_role(actor: Actor) -> None:
    if not actor.has_role(*REPORT_ROLES):
        raise PermissionDeniedError("Only service managers can see the standards report.")


def target_of(measure: Measure) -> int:
    targets: dict[str, int] = setting("MDT_KPI_TARGETS")  # type: ignore[assignment]
    return targets.get(measure.key, measure.target)


def deadline_words(measure: Measure) -> str:
    """The measure's deadline as the report says it (with the local period)."""
    return _deadline_words(measure, setting("MDT_KPI_DAYS"))  # type: ignore[arg-type]


def words_for(measure: Measure, key: str = DEFAULT_PATHWAY_KEY) -> MeasureWords | None:
    """Who the measure counts, when its clock starts and stops, in the pathway's words."""
    version = current_version(key)
    if version is None:
        return None
    pathway = engine_for(version).pathway
    return describe(
        measure,
        pathway,
        setting("MDT_KPI_DAYS"),  # type: ignore[arg-type]
        setting("MDT_PATHWAY_SETTINGS"),  # type: ignore[arg-type]
        episode_labels(version, pathway),
    )


def _months(since: date, until: date) -> list[str]:
    months, day = [], since.replace(day=1)
    while day <= until:
        months.append(f"{day.year:04d}-{day.month:02d}")
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def _cases_in(query: ReportQuery, keys: Sequence[str]) -> list[ColumnElement[bool]]:
    c = ReportCaseModel
    where = [c.start_on >= query.since, c.start_on <= query.until, c.measure.in_(list(keys))]
    # Only this pathway's patients: two pathways may use the same measure key.
    on_pathway = (
        select(PathwayInstanceModel.id)
        .join(
            PathwayVersionModel, PathwayVersionModel.id == PathwayInstanceModel.pathway_version_id
        )
        .where(PathwayVersionModel.key == query.pathway)
    )
    where.append(c.instance_id.in_(on_pathway))
    if query.cohort != "all":
        where.append(c.cohort == query.cohort)
    return where


def ensure_projection() -> None:
    """After an upgrade, a new version's measures or new local periods, derive every case
    again (once)."""
    if not report_cases.is_current():
        report_cases.rebuild_cases()
        db.session.commit()


def rebuild_projection(actor: Actor) -> int:
    """Derive every case of the report again (operators, after an upgrade); returns how many."""
    cases = report_cases.rebuild_cases()
    record_event(actor, "report.rebuilt", object_type="report", detail={"cases": cases})
    db.session.commit()
    return cases


def _figures(measures: Sequence[Measure], query: ReportQuery) -> list[MeasureFigure]:
    figures = {m.key: MeasureFigure(m, target_of(m)) for m in measures}
    c = ReportCaseModel
    classified = (
        select(c.measure, c.month, _status(clock.today()).label("status"))
        .where(*_cases_in(query, list(figures)))
        .subquery()
    )
    k = classified.c
    stmt = select(k.measure, k.month, k.status, func.count()).group_by(k.measure, k.month, k.status)
    for key, month, status, count in db.session.execute(stmt):
        figure = figures[key]
        figure.counts[status] = figure.counts.get(status, 0) + count
        figure.trend.setdefault(month, {})[status] = count
    return list(figures.values())


def standards_report(actor: Actor, query: ReportQuery) -> StandardsReport:
    require_report_role(actor)
    ensure_projection()
    figures = _figures(catalogue(query.pathway), query)
    return StandardsReport(query, figures, _months(query.since, query.until))


def measure_cases(
    actor: Actor, key: str, query: ReportQuery, status: str | None = None
) -> tuple[MeasureFigure, list[CaseRow]]:
    """The patients behind one measure, oldest first, with why; ``status`` narrows to one
    status, or "not_achieved" to every way of not achieving it."""
    require_report_role(actor)
    measure = next((m for m in catalogue(query.pathway) if m.key == key), None)
    if measure is None:
        raise NotFoundError("There is no such measure.")
    if status and status != MISSED_FILTER and status not in LABELS:
        raise InvalidInputError({"status": "Select a status from the list"})
    ensure_projection()
    (figure,) = _figures([measure], query)
    c = ReportCaseModel
    status_ = _status(clock.today()).label("status")
    stmt = (
        select(
            c,
            status_,
            PatientModel.nhs_number,
            PatientModel.family_name,
            PatientModel.given_name,
            HumanTaskModel.id,
            HumanTaskModel.name,
        )
        .join(PatientModel, PatientModel.id == c.patient_id)
        .outerjoin(
            HumanTaskModel,
            HumanTaskModel.id == func.coalesce(c.evidence_task_id, c.open_task_id, c.task_id),
        )
        .where(*_cases_in(query, [key]))
        .order_by(c.start_on, c.id)
    )
    if status == MISSED_FILTER:
        stmt = stmt.where(status_.in_([s.value for s in NOT_ACHIEVED]))
    elif status:
        stmt = stmt.where(status_ == status)
    rows = [
        CaseRow(
            CaseView(row, Status(st)),
            row.patient_id,
            nhs,
            f"{family.upper()}, {given}",
            task_id,
            task_name or "No task yet",
        )
        for row, st, nhs, family, given, task_id, task_name in db.session.execute(
            stmt.limit(CASE_LIST_LIMIT)
        )
    ]
    record_event(
        actor,
        "report.cases_viewed",
        object_type="kpi",
        object_id=key,
        detail={**query.args(), "status": status or "all", "patients": len(rows)},
    )
    db.session.commit()
    return figure, rows


def median_days(rows: list[CaseRow]) -> float | None:
    values = [r.days for r in rows if r.days is not None]
    return round(median(values), 1) if values else None


def figure_dict(figure: MeasureFigure) -> dict[str, Any]:
    """One measure's figures as the API and the CSV give them."""
    return {
        "code": figure.measure.code,
        "key": figure.measure.key,
        "title": figure.measure.title,
        "target": figure.target,
        "achieved": figure.achieved,
        "counted": figure.counted,
        "percent": figure.percent,
        "status": figure.status,
        "counts": {s.value: figure.counts.get(s.value, 0) for s in Status},
    }
