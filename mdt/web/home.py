from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from mdt.models.roles import TASK_ROLES, Role
from mdt.web.access import any_signed_in

bp = Blueprint("home", __name__)


@bp.get("/")
@any_signed_in
def index() -> Response:
    if current_user.has_role(*TASK_ROLES):
        return redirect(url_for("tasks.my_tasks"))
    if current_user.has_role(Role.ADMIN):
        return redirect(url_for("admin.users"))
    return redirect(url_for("patients.search"))
