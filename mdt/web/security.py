"""Response headers every page carries, and sessions that end after inactivity."""

from __future__ import annotations

from flask import Flask, session
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


def install_security(app: Flask) -> None:
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
