from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from mdt.services.errors import SignInError, SignInThrottledError
from mdt.services.users import sign_in
from mdt.web.access import any_signed_in, public
from mdt.web.redirects import is_local_path
from mdt.web.security import end_browser_session, start_browser_session

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never an absolute URL or a scheme-relative //host.
    if target is None or not is_local_path(target):  # no CR LF, spaces or control characters
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
                signed_in = sign_in(
                    username, password, request.remote_addr, request.headers.get("User-Agent")
                )
            except SignInThrottledError as error:
                errors["password"] = str(error)
                throttled = True
            except SignInError as error:
                errors["password"] = str(error)
            else:
                start_browser_session(signed_in.user, signed_in.session_secret)
                return redirect(_safe_next(request.args.get("next")))
    status = 429 if throttled else 400 if errors else 200
    return render_template("auth/sign_in.html", errors=errors, username=username), status


@bp.post("/sign-out")
@any_signed_in
def logout() -> Response:
    end_browser_session()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))
