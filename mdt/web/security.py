"""Response headers every page carries, and signed-in sessions kept on the server.

The session cookie (signed, HttpOnly, SameSite) carries only the session's random secret
(under Flask-Login's ``_user_id`` key, which hands it to the user loader) and the CSRF token;
the record in ``user_session`` decides whether it is still a session (mdt.services.sessions):
signing out, a password reset and a deactivation end it, and so do MDT_SESSION_IDLE_MINUTES
without a request and MDT_SESSION_MAX_HOURS after signing in. The cookie is not re-issued on
every response: only when the record's last-seen time moves on, at most once a minute.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, abort, current_app, request, session
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from mdt.models import UserModel
from mdt.services.sessions import end_session, live_session

SESSION_KEY = "_user_id"  # Flask-Login's key: what it hands to the user loader

# No inline script anywhere (scripts are files under /static and /vendor). Inline style is
# allowed because bpmn-js positions diagram elements with style attributes.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def install_security(app: Flask) -> None:
    @app.before_request
    def _refuse_nul_characters() -> None:
        # No text a person types holds NUL, and PostgreSQL cannot store it: refuse it at the
        # door rather than fail deep inside a transaction.
        values: list[Any] = [*request.args.values(), *request.form.values()]
        if request.is_json:
            values.append(request.get_json(silent=True))
        if any(_holds_nul(value) for value in values):
            abort(400)

    # The cookie is written when the session changes (sign-in, a new CSRF token, the
    # once-a-minute touch), never on every response; Flask-Login's own "session
    # protection" is replaced by the server-side record.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.config["SESSION_PROTECTION"] = None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")  # patient data
        return response


def start_browser_session(user: UserModel, secret: str) -> None:
    """After a successful sign-in: a fresh cookie holding the new session's secret (nothing
    from before signing in is kept, so a planted cookie gains nothing)."""
    session.clear()
    login_user(user)
    for key in ("_fresh", "_id"):
        session.pop(key, None)
    session[SESSION_KEY] = secret
    session.permanent = True  # set once; the cookie lasts PERMANENT_SESSION_LIFETIME


def end_browser_session() -> None:
    """Signing out: the server-side record ends, so a copy of the cookie is worth nothing."""
    secret = session.get(SESSION_KEY)
    if isinstance(secret, str):
        end_session(secret)
    logout_user()
    session.clear()


def user_from_session(secret: str) -> UserModel | None:
    """The user loader's answer: the user of a live session record, or None."""
    live = live_session(
        secret,
        idle=current_app.permanent_session_lifetime,
        longest=timedelta(hours=current_app.config["MDT_SESSION_MAX_HOURS"]),
    )
    if live is None:
        session.clear()  # an ended session's cookie is replaced by an empty one
        return None
    if live.touched:
        session.modified = True  # the cookie's own lifetime moves on with the record's
    return live.user
