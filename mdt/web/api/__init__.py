"""The JSON API, /api/v1: the same services and permission rules as the screens.

Callers authenticate with the browser session or a personal token
(`Authorization: Bearer mdt_...`), which acts for its owner with the owner's roles until it
expires; a read-only token is refused (403) on POST, PUT, PATCH and DELETE. Token
requests carry no cookie, so they need no CSRF token; session requests that change
something must send the session's CSRF token in the `X-CSRFToken` header.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_smorest import Api

from mdt.extensions import csrf, login_manager
from mdt.models import UserModel
from mdt.services.api_tokens import user_for_token
from mdt.services.profiles import PROFILE_FILE, shipped_title
from mdt.web.access import any_signed_in, public
from mdt.web.api import fhir_patient, meetings, pathways, patients, reports, tasks
from mdt.web.api.errors import API_PREFIX, json_error
from mdt.web.api.schemas import ErrorSchema

BLUEPRINTS = (patients, tasks, meetings, pathways, reports, fhir_patient)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _Api(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ErrorSchema  # every documented error has our one shape


api = _Api()


def _shipped_profile() -> bytes | None:
    from mdt import PROJECT_ROOT

    path = PROJECT_ROOT / "bpmn" / PROFILE_FILE
    return path.read_bytes() if path.exists() else None


def register_api(app: Flask) -> None:
    app.config.update(
        # The shipped pathway's title (its profile), read before any database is.
        API_TITLE=f"{shipped_title(_shipped_profile())} API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {
                    "token": {"type": "http", "scheme": "bearer"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                }
            },
            "security": [{"token": []}, {"session": []}],
        },
    )
    api.init_app(app)
    for module in BLUEPRINTS:
        csrf.exempt(module.bp)
        api.register_blueprint(module.bp)
    # The description of the API holds no patient data: integrators read it unsigned.
    spec_view = app.view_functions["api-docs.openapi_json"]

    def openapi_json() -> Any:
        return spec_view()

    app.view_functions["api-docs.openapi_json"] = public(openapi_json)
    app.add_url_rule("/api/v1/docs", "api_docs", any_signed_in(_docs_page))
    app.before_request(_csrf_for_sessions)
    app.session_interface = _NoSessionForTokens()


class _NoSessionForTokens(SecureCookieSessionInterface):
    """A call with a token carries no cookie and must not be handed one: a session cookie
    would let the next call act without the token."""

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return
        super().save_session(app, session, response)


@login_manager.request_loader
def _user_from_token(req: Any) -> UserModel | None:
    header = req.headers.get("Authorization", "")
    if not req.path.startswith(API_PREFIX) or not header.startswith("Bearer "):
        return None
    # A read-only token asking to change something is refused here (403, saying so).
    writes = req.method not in SAFE_METHODS
    user = user_for_token(header.removeprefix("Bearer ").strip(), req.remote_addr, writes)
    g.token_auth = user is not None
    return user


def _csrf_for_sessions() -> Any:
    """API calls that change something with the browser session need its CSRF token."""
    if not request.path.startswith(API_PREFIX) or request.method in SAFE_METHODS:
        return None
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return None  # no cookie involved; an invalid token is refused by the access check
    if not request.cookies or not current_user.is_authenticated:
        return None  # no signed-in session to ride on: the access check answers 401
    csrf.protect()
    return None


def _docs_page() -> str:
    return render_template("api/docs.html")


__all__ = ["api", "json_error", "register_api"]
