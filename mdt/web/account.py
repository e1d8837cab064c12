"""Your account: personal API tokens (created and shown once, revoked)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from mdt.services.api_tokens import create_token, revoke_token, tokens_of
from mdt.services.errors import InvalidInputError
from mdt.web.access import any_signed_in, current_actor

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(errors: dict[str, str] | None = None, name: str = "", secret: str | None = None,
          status: int = 200) -> tuple[str, int]:  # fmt: skip
    actor = current_actor()
    return render_template(
        "account.html", tokens=tokens_of(actor), errors=errors or {}, name=name, secret=secret
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
    try:
        token, secret = create_token(actor, actor.user_id or 0, name)
    except InvalidInputError as error:
        return _page(error.errors, name, status=400)
    # Shown on this response only; never stored, never shown again.
    return _page(secret=secret, name=token.name)


@bp.post("/tokens/<int:token_id>/revoke")
@any_signed_in
def revoke(token_id: int) -> Response:
    token = revoke_token(current_actor(), token_id)
    flash(f"Token “{token.name}” revoked. Systems using it can no longer sign in.", "success")
    return redirect(url_for("account.show"))
