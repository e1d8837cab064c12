from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from mdt.models.roles import TASK_ROLES, Role
from mdt.services.policy import may_see_meetings, may_see_records
from mdt.web.access import any_signed_in

bp = Blueprint("home", __name__)


@bp.get("/")
@any_signed_in
def index() -> Response:
    """Each person's start page: their tasks, else what the access policy lets them see."""
    if current_user.has_role(*TASK_ROLES):
        return redirect(url_for("tasks.my_tasks"))
    if current_user.has_role(Role.ADMIN):
        return redirect(url_for("admin.users"))
    if may_see_records(current_user):
        return redirect(url_for("patients.search"))
    if may_see_meetings(current_user):  # MDT members: radiology, pathology, surgery
        return redirect(url_for("meetings.index"))
    return redirect(url_for("pathways.library"))
