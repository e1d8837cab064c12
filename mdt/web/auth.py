from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from mdt.services.errors import SignInError, SignInThrottledError
from mdt.services.users import sign_in
from mdt.web.access import any_signed_in, public

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never an absolute URL or a scheme-relative //host.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("home.index")
    parts = urlsplit(target)
    return target if not parts.netloc and not parts.scheme else url_for("home.index")


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def login() -> Response | tuple[str, int]:
    errors: dict[str, str] = {}
    throttled = False
    username = request.form.get("username", "")
    if request.method == "POST":
        password = request.form.get("password", "")
        if not username.strip():
            errors["username"] = "Enter your username"
        if not password:
            errors["password"] = "Enter your password"  # noqa: S105 - a message, not a secret
        if not errors:
            try:
                user = sign_in(username, password, request.remote_addr)
            except SignInThrottledError as error:
                errors["password"] = str(error)
                throttled = True
            except SignInError as error:
                errors["password"] = str(error)
            else:
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
    status = 429 if throttled else 400 if errors else 200
    return render_template("auth/sign_in.html", errors=errors, username=username), status


@bp.post("/sign-out")
@any_signed_in
def logout() -> Response:
    logout_user()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))
