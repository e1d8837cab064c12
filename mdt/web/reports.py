"""Managers' reports: the standards dashboard, MDT meeting metrics and workload, with CSV."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from mdt.models.roles import Role
from mdt.services.case_status import LABELS, Status
from mdt.services.errors import InvalidInputError
from mdt.services.operational_reports import meeting_report, workload_report
from mdt.services.standards_report import (
    MISSED_FILTER,
    ReportQuery,
    cohorts,
    deadline_words,
    figure_dict,
    measure_cases,
    measured_pathways,
    median_days,
    standards_report,
    words_for,
)
from mdt.web.access import current_actor, roles_required
from mdt.web.csv_export import csv_response

bp = Blueprint("reports", __name__, url_prefix="/reports")

OUTSIDE_A_MEETING = "Decided outside a meeting"


def _query() -> tuple[ReportQuery, dict[str, str]]:
    args = request.args
    try:
        return ReportQuery.parse(
            args.get("since"), args.get("until"), args.get("cohort"), args.get("pathway")
        ), {}
    except InvalidInputError as error:
        return ReportQuery.parse(None, None, None), error.errors


def _page(
    template: str, query: ReportQuery, errors: dict[str, str], **context: Any
) -> tuple[str, int]:
    # A bad filter re-renders the form with what was typed and an error summary.
    if errors:
        values = {key: request.args.get(key, "") for key in ("since", "until", "cohort", "pathway")}
    else:
        values = query.args()
    return render_template(
        template,
        query=query,
        errors=errors,
        values=values,
        cohorts=cohorts(query.pathway),
        pathways=measured_pathways(),
        status_labels=LABELS,
        not_achieved=MISSED_FILTER,
        deadline_words=deadline_words,
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
    status = request.args.get("status") or None
    if errors:
        return _page("reports/kpi.html", query, errors, key=key, figure=None, status=status)
    figure, rows = measure_cases(current_actor(), key, query, status)
    return _page(
        "reports/kpi.html",
        query,
        errors,
        key=key,
        figure=figure,
        rows=rows,
        status=status,
        median=median_days(rows),
        words=words_for(figure.measure, query.pathway),
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
    figures = [figure_dict(f) for f in report.figures]
    rows: Iterable[list[Any]] = (
        [f["code"], f["key"], f["title"], f["target"], f["achieved"], f["counted"],
         _percent(f["percent"]), f["status"], *(f["counts"][s.value] for s in Status)]
        for f in figures
    )  # fmt: skip
    header = ["standard", "measure", "title", "target_percent", "met_or_declined", "counted"]
    header += ["percent", "status", *(s.value for s in Status)]
    return csv_response("standards.csv", header, rows)


@bp.get("/standards-trend.csv")
@roles_required(Role.MANAGER)
def trend_csv() -> Response:
    report = standards_report(current_actor(), _valid_query())
    rows = (
        [f.measure.code, f.measure.key, month, _percent(f.month_percent(month))]
        for f in report.figures
        for month in report.months
    )
    return csv_response("standards-trend.csv", ["standard", "measure", "month", "percent"], rows)


@bp.get("/standards/<key>.csv")
@roles_required(Role.MANAGER)
def kpi_csv(key: str) -> Response:
    figure, cases = measure_cases(
        current_actor(), key, _valid_query(), request.args.get("status") or None
    )
    rows = (
        [
            c.nhs_number,
            c.patient_name,
            c.view.row.cohort,
            c.task_name,
            c.view.row.start_on.isoformat(),
            c.view.row.deadline_on.isoformat() if c.view.row.deadline_on else "",
            c.view.row.done_on.isoformat() if c.view.row.done_on else "",
            c.days if c.days is not None else "",
            c.view.status.value,
            c.view.label,
            c.view.why,
            c.view.row.recorded_late_days or "",
        ]
        for c in cases
    )
    header = ["nhs_number", "patient", "episode", "task", "clock_started", "deadline", "done"]
    header += ["days", "status", "status_label", "why", "recorded_days_late"]
    return csv_response(f"{figure.measure.key}.csv", header, rows)


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
    # Outcomes decided outside a meeting: their own row, never counted in a meeting's.
    outside: list[Any] = ["", OUTSIDE_A_MEETING, "outside_meeting", "", "", "", "", ""]
    outside += [report.outside_count, 0, "", "", ""]
    header = ["starts_at", "title", "status", "listed", "circulated_24h_before", "late_additions"]
    header += ["quorate", "missing_disciplines", "outcomes_confirmed", "confirmed_in_meeting"]
    header += ["gp_told_on_time", "gp_letters_due", "patients_informed"]
    return csv_response("mdt-meetings.csv", header, [*rows, outside])


@bp.get("/mdt-outcomes.csv")
@roles_required(Role.MANAGER)
def outcomes_csv() -> Response:
    """Every MDT outcome of the period: where it was decided, and for one outside a meeting
    why and by whom."""
    report = meeting_report(current_actor(), _valid_query(), outside_limit=None)
    rows = (
        [
            o.decided_on.isoformat(),
            "meeting" if o.listing else "outside_meeting",
            o.listing.meeting.title if o.listing else "",
            o.listing.meeting.starts_at.isoformat() if o.listing else "",
            o.task.patient.nhs_number,
            o.task.patient.display_name,
            o.task.completed_at.isoformat() if o.task.completed_at else "",
            "" if o.listing else o.reason,
            o.clinicians_text,
            (o.listing.nonquorate_reason or "") if o.listing else "",
        ]
        for o in report.outcomes
    )
    header = ["decided_on", "decided_at", "meeting", "meeting_starts_at", "nhs_number", "patient"]
    header += ["recorded_at", "reason_outside_meeting", "deciding_clinicians", "nonquorate_reason"]
    return csv_response("mdt-outcomes.csv", header, rows)


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
