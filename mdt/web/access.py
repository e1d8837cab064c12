"""Every page needs a signed-in user, and each view declares the roles it admits.

A view without a declaration is refused (403) rather than left open, so a new
route cannot be forgotten; the access test walks the URL map to prove it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, g, request
from flask_login import current_user

from mdt.extensions import login_manager
from mdt.models import UserModel
from mdt.services.actor import Actor, actor_for
from mdt.web.security import user_from_session

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "_mdt_public"
ANY_ROLE = "_mdt_any_role"
ROLES = "_mdt_roles"


def public(view: F) -> F:
    setattr(view, PUBLIC, True)
    return view


def any_signed_in(view: F) -> F:
    setattr(view, ANY_ROLE, True)
    return view


def roles_required(*roles: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        setattr(view, ROLES, frozenset(roles))

        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **kwargs)

        setattr(wrapped, ROLES, frozenset(roles))
        return wrapped  # type: ignore[return-value]

    return decorate


def current_actor() -> Actor:
    return actor_for(current_user, request.remote_addr)


@login_manager.user_loader
def _load_user(user_id: str) -> UserModel | None:
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return None  # an explicit token decides, whatever session cookie came along
    return user_from_session(user_id)  # the session's secret: its server-side record decides


def install_access_rules(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"

    @app.before_request
    def _forget_the_last_caller() -> None:
        # Who is calling is worked out afresh for every request, even when requests share
        # an application context (as a test's or a WSGI harness's requests can).
        g.pop("_login_user", None)
        g.pop("token_auth", None)

    @app.before_request
    def _check_access() -> Any:
        view = app.view_functions.get(request.endpoint or "")
        if view is None or request.endpoint == "static" or getattr(view, PUBLIC, False):
            return None
        if not current_user.is_authenticated:
            if request.path.startswith("/api/"):
                abort(401)  # API callers get a JSON 401, not the sign-in page
            return login_manager.unauthorized()
        if getattr(view, ANY_ROLE, False):
            return None
        allowed = getattr(view, ROLES, None)
        if allowed is None or not current_user.has_role(*allowed):
            abort(403)
        return None
