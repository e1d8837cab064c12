"""Managers' reports: the standards dashboard, MDT meeting metrics and workload, with CSV."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from mdt.models.roles import Role
from mdt.services.errors import InvalidInputError
from mdt.services.operational_reports import meeting_report, workload_report
from mdt.services.standards_kpis import COHORTS
from mdt.services.standards_report import (
    OUTCOME_LABELS,
    Outcome,
    ReportQuery,
    kpi_cases,
    median_days,
    standards_report,
)
from mdt.web.access import current_actor, roles_required
from mdt.web.csv_export import csv_response

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _query() -> tuple[ReportQuery, dict[str, str]]:
    args = request.args
    try:
        return ReportQuery.parse(args.get("since"), args.get("until"), args.get("cohort")), {}
    except InvalidInputError as error:
        return ReportQuery.parse(None, None, None), error.errors


def _page(
    template: str, query: ReportQuery, errors: dict[str, str], **context: Any
) -> tuple[str, int]:
    # A bad filter re-renders the form with what was typed and an error summary.
    if errors:
        values = {key: request.args.get(key, "") for key in ("since", "until", "cohort")}
    else:
        values = query.args()
    return render_template(
        template,
        query=query,
        errors=errors,
        values=values,
        cohorts=COHORTS,
        outcome_labels=OUTCOME_LABELS,
        **context,
    ), 400 if errors else 200


@bp.get("/standards")
@roles_required(Role.MANAGER)
def standards() -> tuple[str, int]:
    query, errors = _query()
    report = None if errors else standards_report(current_actor(), query)
    return _page("reports/standards.html", query, errors, report=report)


@bp.get("/standards/<key>")
@roles_required(Role.MANAGER)
def kpi(key: str) -> tuple[str, int]:
    query, errors = _query()
    outcome = request.args.get("outcome") or None
    if errors:
        return _page("reports/kpi.html", query, errors, key=key, figure=None, outcome=outcome)
    figure, rows = kpi_cases(current_actor(), key, query, outcome)
    return _page(
        "reports/kpi.html",
        query,
        errors,
        key=key,
        figure=figure,
        rows=rows,
        outcome=outcome,
        median=median_days(rows),
    )


@bp.get("/meetings")
@roles_required(Role.MANAGER)
def meetings() -> tuple[str, int]:
    query, errors = _query()
    report = None if errors else meeting_report(current_actor(), query)
    return _page("reports/meetings.html", query, errors, report=report)


@bp.get("/workload")
@roles_required(Role.MANAGER)
def workload() -> tuple[str, int]:
    query, errors = _query()
    report = None if errors else workload_report(current_actor(), query)
    return _page("reports/workload.html", query, errors, report=report)


# -- CSV ---------------------------------------------------------------------------------


def _valid_query() -> ReportQuery:
    query, errors = _query()
    if errors:
        raise InvalidInputError(errors)
    return query


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


@bp.get("/standards.csv")
@roles_required(Role.MANAGER)
def standards_csv() -> Response:
    report = standards_report(current_actor(), _valid_query())
    outcomes = list(Outcome)
    rows: Iterable[list[Any]] = (
        [
            f.kpi.code,
            f.kpi.key,
            f.kpi.title,
            f.days if f.days is not None else "",
            f.target,
            f.met,
            f.counted,
            _percent(f.percent),
            f.status,
            *(f.counts.get(o, 0) for o in outcomes),
        ]
        for f in report.figures
    )
    header = ["standard", "measure", "title", "period_days", "target_percent", "met", "counted"]
    header += ["percent", "status", *(o.value for o in outcomes)]
    return csv_response("standards.csv", header, rows)


@bp.get("/standards-trend.csv")
@roles_required(Role.MANAGER)
def trend_csv() -> Response:
    report = standards_report(current_actor(), _valid_query())
    rows = (
        [f.kpi.code, f.kpi.key, month, _percent(f.month_percent(month))]
        for f in report.figures
        for month in report.months
    )
    return csv_response("standards-trend.csv", ["standard", "measure", "month", "percent"], rows)


@bp.get("/standards/<key>.csv")
@roles_required(Role.MANAGER)
def kpi_csv(key: str) -> Response:
    figure, cases = kpi_cases(
        current_actor(), key, _valid_query(), request.args.get("outcome") or None
    )
    rows = (
        [
            c.nhs_number,
            c.patient_name,
            c.task_name,
            c.started.isoformat() if c.started else "",
            c.done_at.isoformat() if c.done_at else "",
            c.days if c.days is not None else "",
            c.outcome,
            c.why,
        ]
        for c in cases
    )
    header = ["nhs_number", "patient", "task", "started", "done", "days", "outcome", "why"]
    return csv_response(f"{figure.kpi.key}.csv", header, rows)


@bp.get("/meetings.csv")
@roles_required(Role.MANAGER)
def meetings_csv() -> Response:
    report = meeting_report(current_actor(), _valid_query())
    rows = (
        [
            r.meeting.starts_at.isoformat(),
            r.meeting.title,
            r.meeting.status,
            r.listed,
            {True: "yes", False: "no", None: "not circulated"}[r.kpis.circulated_24h_before],
            r.kpis.late_additions,
            "yes" if r.kpis.quorate else "no",
            "; ".join(r.kpis.missing),
            r.kpis.outcomes_confirmed,
            r.kpis.outcomes_confirmed_in_meeting,
            r.kpis.gp_letters_on_time,
            r.kpis.gp_letters_due,
            r.kpis.patients_informed,
        ]
        for r in report.rows
    )
    header = ["starts_at", "title", "status", "listed", "circulated_24h_before", "late_additions"]
    header += ["quorate", "missing_disciplines", "outcomes_confirmed", "confirmed_in_meeting"]
    header += ["gp_told_on_time", "gp_letters_due", "patients_informed"]
    return csv_response("mdt-meetings.csv", header, rows)


@bp.get("/attendance.csv")
@roles_required(Role.MANAGER)
def attendance_csv() -> Response:
    report = meeting_report(current_actor(), _valid_query())
    rows = (
        [m.name, m.discipline, m.attended, m.held, "yes" if m.meets_rule else "no"]
        for m in report.members
    )
    header = ["member", "discipline", "attended", "held", "meets_two_thirds"]
    return csv_response("mdt-attendance.csv", header, rows)


@bp.get("/workload-<kind>.csv")
@roles_required(Role.MANAGER)
def workload_csv(kind: str) -> Response:
    report = workload_report(current_actor(), _valid_query())
    table = {"roles": report.by_role, "people": report.by_person}.get(kind)
    if table is None:
        raise InvalidInputError({"kind": "Choose roles or people"})
    rows = (
        [r.label, r.open, r.overdue, r.completed, *(r.weekly.get(w, 0) for w in report.weeks)]
        for r in table
    )
    header = ["role" if kind == "roles" else "person", "open", "overdue", "completed"]
    return csv_response(f"workload-{kind}.csv", header + report.weeks, rows)
