"""Response headers every page carries, and sessions that end after inactivity."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request, session
from werkzeug.wrappers import Response

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

    @app.before_request
    def _expire_when_idle() -> None:
        # A permanent session is re-issued on every request, so it lapses after
        # PERMANENT_SESSION_LIFETIME without activity.
        session.permanent = True

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")  # patient data
        return response
