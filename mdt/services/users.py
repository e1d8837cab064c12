"""Staff accounts: create, set roles, reset passwords, deactivate (never delete), sign in."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from mdt import clock
from mdt.extensions import db
from mdt.models import AuditEventModel, UserModel, UserRoleModel
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SignInError,
    SignInThrottledError,
)
from mdt.services.settings import setting

MIN_PASSWORD_LENGTH = 12
LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=15)
ADDRESS_WINDOW = timedelta(minutes=15)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _check_roles(roles: Iterable[str]) -> list[str]:
    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in {role.value for role in Role}]
    if unknown:
        raise InvalidInputError({"roles": f"Unknown role: {', '.join(unknown)}"})
    if not roles:
        raise InvalidInputError({"roles": "Select at least one role"})
    return roles


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            {"password": f"Password must be at least {MIN_PASSWORD_LENGTH} characters"}
        )


def find_user(username: str) -> UserModel | None:
    return db.session.scalar(
        select(UserModel).where(func.lower(UserModel.username) == username.strip().lower())
    )


def get_user(user_id: int) -> UserModel:
    user = db.session.get(UserModel, user_id)
    if user is None:
        raise NotFoundError("No such user")
    return user


def list_users() -> list[UserModel]:
    return list(db.session.scalars(select(UserModel).order_by(UserModel.display_name)))


def create_user(
    actor: Actor,
    username: str,
    display_name: str,
    roles: Iterable[str],
    password: str | None = None,
    discipline: str | None = None,
    email: str | None = None,
) -> tuple[UserModel, str]:
    """Create an account; returns it with its password (generated if none was given)."""
    username = username.strip().lower()
    errors = {}
    if not username or not username.replace(".", "").replace("-", "").isalnum():
        errors["username"] = "Enter a username using letters, numbers, dots or hyphens"
    if not display_name.strip():
        errors["display_name"] = "Enter the person's full name"
    if errors:
        raise InvalidInputError(errors)
    if find_user(username) is not None:
        raise ConflictError(f"There is already an account called {username}")
    role_list = _check_roles(roles)
    password = password or generate_password()
    _check_password(password)
    user = UserModel(
        username=username,
        display_name=display_name.strip(),
        email=email,
        discipline=discipline,
        password_hash=generate_password_hash(password),
    )
    user.role_rows = [UserRoleModel(role=role) for role in role_list]
    db.session.add(user)
    db.session.flush()
    record_event(
        actor,
        "user.created",
        object_type="user",
        object_id=user.id,
        detail={"username": username, "roles": role_list},
    )
    db.session.commit()
    return user, password


def update_user(
    actor: Actor,
    user_id: int,
    display_name: str,
    roles: Iterable[str],
    discipline: str | None,
    email: str | None,
) -> UserModel:
    user = get_user(user_id)
    role_list = _check_roles(roles)
    if not display_name.strip():
        raise InvalidInputError({"display_name": "Enter the person's full name"})
    user.display_name = display_name.strip()
    user.discipline = discipline or None
    user.email = email or None
    user.role_rows = [UserRoleModel(role=role) for role in role_list]
    record_event(
        actor, "user.updated", object_type="user", object_id=user.id, detail={"roles": role_list}
    )
    db.session.commit()
    return user


def reset_password(actor: Actor, user_id: int, password: str | None = None) -> str:
    user = get_user(user_id)
    password = password or generate_password()
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    user.password_changed_at = clock.now()
    user.failed_sign_ins = 0
    user.locked_until = None
    record_event(actor, "user.password_reset", object_type="user", object_id=user.id)
    db.session.commit()
    return password


def set_active(actor: Actor, user_id: int, active: bool) -> UserModel:
    user = get_user(user_id)
    if actor.user_id == user.id and not active:
        raise InvalidInputError({"active": "You cannot deactivate your own account"})
    user.active = active
    record_event(
        actor,
        "user.activated" if active else "user.deactivated",
        object_type="user",
        object_id=user.id,
    )
    db.session.commit()
    return user


def _recent_failures_from(ip_address: str, now: datetime) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEventModel)
            .where(
                AuditEventModel.action == "signin.failed",
                AuditEventModel.ip_address == ip_address,
                AuditEventModel.at > now - ADDRESS_WINDOW,
            )
        )
        or 0
    )


def sign_in(username: str, password: str, ip_address: str | None) -> UserModel:
    """Check a password; every success and failure is audited; repeated failures lock."""
    user = find_user(username)
    now = clock.now()
    who = Actor(user.id if user else None, username[:80], frozenset(), ip_address)
    failure = "Enter a correct username and password"
    limit = int(str(setting("MDT_SIGNIN_FAILURES_PER_ADDRESS")))
    if ip_address and _recent_failures_from(ip_address, now) >= limit:
        # Guessing across many accounts from one address; the per-account lockout below
        # cannot see that. Counted from the audit trail, so every app host agrees.
        record_event(who, "signin.failed", detail={"reason": "address limited"})
        db.session.commit()
        raise SignInThrottledError(
            "Too many failed sign-ins from this network. Wait 15 minutes and try again."
        )
    if user is None or not user.active:
        record_event(who, "signin.failed", detail={"reason": "unknown or inactive"})
        db.session.commit()
        raise SignInError(failure)
    if user.locked_until is not None and user.locked_until > now:
        record_event(who, "signin.failed", detail={"reason": "locked"})
        db.session.commit()
        raise SignInError(
            "This account is locked after repeated failed sign-ins. "
            "Try again in 15 minutes or ask an administrator."
        )
    if not check_password_hash(user.password_hash, password):
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= LOCKOUT_AFTER:
            user.locked_until = now + LOCKOUT_FOR
            user.failed_sign_ins = 0
        record_event(who, "signin.failed", detail={"reason": "password"})
        db.session.commit()
        raise SignInError(failure)
    user.failed_sign_ins = 0
    user.locked_until = None
    record_event(Actor(user.id, user.username, user.roles, ip_address), "signin.succeeded")
    db.session.commit()
    return user
