"""Administrators manage accounts: create, set roles, reset passwords, deactivate."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from mdt.models.roles import ROLE_LABELS, Role
from mdt.services.errors import ConflictError, InvalidInputError
from mdt.services.users import (
    create_user,
    get_user,
    list_users,
    reset_password,
    set_active,
    update_user,
)
from mdt.web.access import current_actor, roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@roles_required(Role.ADMIN)
def users() -> str:
    return render_template("admin/users.html", users=list_users())


def _user_form(
    user: object | None, values: dict, errors: dict, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "admin/user_form.html", user=user, values=values, errors=errors, role_labels=ROLE_LABELS
    ), status


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user() -> Response | tuple[str, int]:
    if request.method == "GET":
        return _user_form(None, {"roles": []}, {})
    form = request.form
    values = {**form.to_dict(), "roles": form.getlist("roles")}
    try:
        user, password = create_user(
            current_actor(),
            form.get("username", ""),
            form.get("display_name", ""),
            form.getlist("roles"),
            discipline=form.get("discipline") or None,
            email=form.get("email") or None,
        )
    except InvalidInputError as error:
        return _user_form(None, values, error.errors, 400)
    except ConflictError as error:
        return _user_form(None, values, {"username": str(error)}, 409)
    flash(
        f"Account {user.username} created. Its one-time password is {password} — "
        "give it to the person securely; it is not shown again.",
        "success",
    )
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int) -> Response | tuple[str, int]:
    user = get_user(user_id)
    if request.method == "GET":
        values = {
            "display_name": user.display_name,
            "discipline": user.discipline or "",
            "email": user.email or "",
            "roles": sorted(user.roles),
        }
        return _user_form(user, values, {})
    form = request.form
    values = {**form.to_dict(), "roles": form.getlist("roles")}
    try:
        update_user(
            current_actor(),
            user_id,
            form.get("display_name", ""),
            form.getlist("roles"),
            form.get("discipline"),
            form.get("email"),
        )
    except InvalidInputError as error:
        return _user_form(user, values, error.errors, 400)
    flash(f"Account {user.username} updated.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/password")
@roles_required(Role.ADMIN)
def reset(user_id: int) -> Response:
    password = reset_password(current_actor(), user_id)
    flash(
        f"New one-time password for {get_user(user_id).username}: {password} — "
        "it is not shown again.",
        "success",
    )
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def toggle_active(user_id: int) -> Response:
    active = request.form.get("active") == "true"
    try:
        user = set_active(current_actor(), user_id, active)
    except InvalidInputError as error:
        flash(next(iter(error.errors.values())), "error")
        return redirect(url_for("admin.users"))
    flash(f"Account {user.username} {'reactivated' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.users"))
