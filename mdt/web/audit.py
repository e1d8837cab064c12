from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request

from mdt.models.roles import Role
from mdt.services.audit_search import PAGE, AuditQuery, search_audit
from mdt.web.access import current_actor, roles_required

bp = Blueprint("audit", __name__, url_prefix="/audit")


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("")
@roles_required(Role.MANAGER)
def search() -> str:
    args = request.args
    query = AuditQuery(
        username=args.get("username", ""),
        action=args.get("action", ""),
        patient=args.get("patient", ""),
        since=_day(args.get("since")),
        until=_day(args.get("until")),
    )
    rows = search_audit(current_actor(), query)
    return render_template("audit.html", rows=rows, query=query, page=PAGE)
