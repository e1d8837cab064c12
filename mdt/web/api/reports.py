"""/api/v1/reports/standards: the standards dashboard's figures."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from mdt.models.roles import Role
from mdt.services.standards_report import ReportQuery, figure_dict, standards_report
from mdt.web.access import current_actor, roles_required
from mdt.web.api.schemas import ReportQuerySchema, StandardsReportSchema

bp = Blueprint("api_reports", __name__, url_prefix="/api/v1", description="Reports")


@bp.route("/reports/standards", methods=["GET"])
@bp.arguments(ReportQuerySchema, location="query")
@bp.response(200, StandardsReportSchema)
@roles_required(Role.MANAGER)
def standards(args: dict[str, Any]) -> Any:
    since, until = args.get("from_"), args.get("to")
    query = ReportQuery.parse(
        since.isoformat() if since else None,
        until.isoformat() if until else None,
        args["cohort"],
        args.get("pathway_key"),
    )
    report = standards_report(current_actor(), query)
    return {
        "from_": query.since,
        "to": query.until,
        "cohort": query.cohort,
        "pathway_key": query.pathway,
        "figures": [figure_dict(f) for f in report.figures],
    }
