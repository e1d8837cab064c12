"""Your account: your password, and personal API tokens (created and shown once, with a
lifetime and a scope; revoked)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from mdt.services.api_tokens import (
    DEFAULT_DAYS,
    LIFETIMES_DAYS,
    SCOPES,
    create_token,
    revoke_token,
    tokens_of,
)
from mdt.services.errors import InvalidInputError
from mdt.services.notifications import set_digest
from mdt.services.users import change_own_password
from mdt.web.access import any_signed_in, current_actor
from mdt.web.security import start_browser_session

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(errors: dict[str, str] | None = None, name: str = "", secret: str | None = None,
          status: int = 200, days: str = str(DEFAULT_DAYS),
          scope: str = "read") -> tuple[str, int]:  # fmt: skip
    actor = current_actor()
    return render_template(
        "account.html",
        tokens=tokens_of(actor),
        errors=errors or {},
        name=name,
        secret=secret,
        days=days,
        scope=scope,
        lifetimes=LIFETIMES_DAYS,
        scopes=SCOPES,
    ), status


@bp.get("")
@any_signed_in
def show() -> tuple[str, int]:
    return _page()


@bp.post("/tokens")
@any_signed_in
def new_token() -> tuple[str, int]:
    actor = current_actor()
    name = request.form.get("name", "")
    days = request.form.get("days", str(DEFAULT_DAYS))
    scope = request.form.get("scope", "read")
    try:
        lifetime = int(days) if days.isdigit() else 0
        token, secret = create_token(actor, actor.user_id or 0, name, days=lifetime, scope=scope)
    except InvalidInputError as error:
        return _page(error.errors, name, status=400, days=days, scope=scope)
    # Shown on this response only; never stored, never shown again.
    return _page(secret=secret, name=token.name)


@bp.post("/password")
@any_signed_in
def change_password() -> Response | tuple[str, int]:
    """Your own password: every other session and every token ends; you stay signed in here."""
    actor = current_actor()
    try:
        secret = change_own_password(
            actor,
            request.form.get("current_password", ""),
            request.form.get("new_password", ""),
            request.form.get("confirm_password", ""),
            request.headers.get("User-Agent"),
        )
    except InvalidInputError as error:
        return _page(error.errors, status=400)
    start_browser_session(current_user._get_current_object(), secret)
    flash(
        "Your password is changed. You are signed out everywhere else, and your API tokens "
        "are revoked.",
        "success",
    )
    return redirect(url_for("account.show"))


@bp.post("/tokens/<int:token_id>/revoke")
@any_signed_in
def revoke(token_id: int) -> Response:
    token = revoke_token(current_actor(), token_id)
    flash(f"Token “{token.name}” revoked. Systems using it can no longer sign in.", "success")
    return redirect(url_for("account.show"))


@bp.post("/notifications")
@any_signed_in
def digest() -> Response | tuple[str, int]:
    """Notification e-mails as things happen, or one summary a day at a chosen hour."""
    choice = request.form.get("digest_hour", "")
    try:
        set_digest(current_actor(), int(choice) if choice.isdigit() else None)
    except InvalidInputError as error:
        return _page(error.errors, status=400)
    flash("Your notification e-mail setting is saved.", "success")
    return redirect(url_for("account.show"))
