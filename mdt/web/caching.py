"""No browser, proxy or shared computer keeps a copy of patient data.

Every response to a signed-in person or a token-authenticated API call, and every download
(PDF, CSV, JSON, a pathway's files), is ``Cache-Control: no-store`` with ``Pragma:
no-cache`` for HTTP/1.0 caches: the back button on a ward computer after sign-out shows
nothing, and nothing lands in a disk cache. Static assets (our /static files and the
front-end packages under /vendor and /assets) hold no patient data and keep caching.
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_login import current_user
from werkzeug.wrappers import Response

STATIC_ENDPOINTS = frozenset({"static"})
STATIC_BLUEPRINTS = frozenset({"assets"})
# Whoever asks: these are exports and data, never layout.
DATA_TYPES = frozenset(
    {
        "application/json",
        "application/fhir+json",
        "application/pdf",
        "text/csv",
        "application/xml",
        "application/octet-stream",
    }
)


def is_static_asset() -> bool:
    return request.endpoint in STATIC_ENDPOINTS or request.blueprint in STATIC_BLUEPRINTS


def carries_patient_data(response: Response) -> bool:
    """True unless the response is a static asset; see the module's docstring."""
    if is_static_asset():
        return False
    mimetype = response.mimetype or ""
    if g.get("token_auth") or mimetype in DATA_TYPES or mimetype.endswith("+json"):
        return True
    if response.headers.get("Content-Disposition", "").startswith("attachment"):
        return True
    return bool(current_user and current_user.is_authenticated)


def install_caching(app: Flask) -> None:
    @app.after_request
    def _no_store(response: Response) -> Response:
        if carries_patient_data(response):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
            response.headers.pop("Expires", None)
        return response
