"""Staff accounts: create, set roles, reset passwords, deactivate (never delete), sign in."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import and_, case, func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from mdt import clock
from mdt.extensions import db
from mdt.models import AuditEventModel, UserModel, UserRoleModel
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.api_tokens import revoke_tokens_of
from mdt.services.audit import record_event
from mdt.services.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SignInError,
    SignInThrottledError,
)
from mdt.services.sessions import DEACTIVATED, PASSWORD_RESET, begin_session, end_sessions_of
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


def _set_password(user: UserModel, password: str) -> tuple[int, int]:
    """A new password (reset or changed): the lock is lifted, and whoever knew the old one
    may hold a session or have made a token, so both end. Returns (sessions, tokens) ended."""
    user.password_hash = generate_password_hash(password)
    user.password_changed_at = clock.now()
    user.failed_sign_ins = 0
    user.locked_until = None
    return end_sessions_of(user.id, PASSWORD_RESET), revoke_tokens_of(user.id, PASSWORD_RESET)


def reset_password(actor: Actor, user_id: int, password: str | None = None) -> str:
    user = get_user(user_id)
    password = password or generate_password()
    _check_password(password)
    sessions, tokens = _set_password(user, password)
    record_event(
        actor,
        "user.password_reset",
        object_type="user",
        object_id=user.id,
        detail={"sessions_ended": sessions, "tokens_revoked": tokens},
    )
    db.session.commit()
    return password


def set_active(actor: Actor, user_id: int, active: bool) -> UserModel:
    user = get_user(user_id)
    if actor.user_id == user.id and not active:
        raise InvalidInputError({"active": "You cannot deactivate your own account"})
    user.active = active
    detail = None
    if not active:
        # Reactivating later must not bring back what was open: sessions and tokens end.
        detail = {
            "sessions_ended": end_sessions_of(user.id, DEACTIVATED),
            "tokens_revoked": revoke_tokens_of(user.id, DEACTIVATED),
        }
    record_event(
        actor,
        "user.activated" if active else "user.deactivated",
        object_type="user",
        object_id=user.id,
        detail=detail,
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


@cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, checked when there is no account to check against,
    so an unknown or locked username costs the same work as a wrong password."""
    return generate_password_hash(secrets.token_urlsafe(16))


def _claim_attempt(user_id: int, now: datetime) -> bool:
    """Take one of the account's password checks, in one statement: the failure counter
    goes up only while the account is unlocked and under the limit, and the check that
    reaches the limit locks the account as it is taken, so parallel guesses can never make
    more than LOCKOUT_AFTER checks. A check counts as a failure until it succeeds (which
    clears the counter and the lock); a lock that has run out starts the count again."""
    lock_ran_out = and_(UserModel.locked_until.is_not(None), UserModel.locked_until <= now)
    count = case((lock_ran_out, 1), else_=UserModel.failed_sign_ins + 1)
    result = db.session.execute(
        update(UserModel)
        .where(
            UserModel.id == user_id,
            or_(
                and_(UserModel.locked_until.is_(None), UserModel.failed_sign_ins < LOCKOUT_AFTER),
                lock_ran_out,
            ),
        )
        .values(
            failed_sign_ins=count,
            locked_until=case((count >= LOCKOUT_AFTER, now + LOCKOUT_FOR), else_=None),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()  # other attempts see the check taken before this one runs it
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _clear_failures(user_id: int) -> None:
    """A correct password clears the count and any lock, by statement: a lock that parallel
    claims set after this request read the row (the same person signing in on two devices
    at once) is cleared too, which an ORM write of unchanged-looking values would skip."""
    db.session.execute(
        update(UserModel)
        .where(UserModel.id == user_id)
        .values(failed_sign_ins=0, locked_until=None)
        .execution_options(synchronize_session="fetch")
    )


@dataclass(frozen=True)
class SignedIn:
    user: UserModel
    session_secret: str  # for the session cookie only; the server keeps its hash


SIGN_IN_FAILED = "Enter a correct username and password"


def sign_in(
    username: str, password: str, ip_address: str | None, user_agent: str | None = None
) -> SignedIn:
    """Check a password and start a session; every success and failure is audited.

    Unknown, inactive and locked accounts are told exactly what a wrong password is told,
    after the same work (a password hash checked), so the answer says nothing about which
    accounts exist. Repeated failures lock the account (administrators see it)."""
    user = find_user(username)
    now = clock.now()
    who = Actor(user.id if user else None, username[:80], frozenset(), ip_address)
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
        check_password_hash(_dummy_hash(), password)
        record_event(who, "signin.failed", detail={"reason": "unknown or inactive"})
        db.session.commit()
        raise SignInError(SIGN_IN_FAILED)
    user_id = user.id
    if not _claim_attempt(user_id, now):
        check_password_hash(_dummy_hash(), password)
        record_event(who, "signin.failed", detail={"reason": "locked"})
        db.session.commit()
        raise SignInError(SIGN_IN_FAILED)
    user = get_user(user_id)
    if not check_password_hash(user.password_hash, password):
        # Already counted (and locked at the limit) when the check was claimed.
        record_event(who, "signin.failed", detail={"reason": "password"})
        db.session.commit()
        raise SignInError(SIGN_IN_FAILED)
    _clear_failures(user_id)
    record_event(Actor(user.id, user.username, user.roles, ip_address), "signin.succeeded")
    secret = begin_session(user, user_agent, ip_address)
    db.session.commit()
    return SignedIn(user, secret)


def change_own_password(
    actor: Actor, current: str, new: str, confirm: str, user_agent: str | None = None
) -> str:
    """A signed-in person changes their own password. The current password is checked
    (counted like a sign-in, so a borrowed session cannot guess it); every session and token
    of the account ends, and this browser gets a new session, whose secret is returned."""
    errors = {}
    if not current:
        errors["current_password"] = "Enter your current password"  # noqa: S105 - a message
    if len(new) < MIN_PASSWORD_LENGTH:
        errors["new_password"] = (
            f"Your new password must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    elif new != confirm:
        errors["confirm_password"] = "The passwords do not match"  # noqa: S105 - a message
    elif new == current:
        errors["new_password"] = "Choose a password different from your current one"  # noqa: S105
    if errors:
        raise InvalidInputError(errors)
    user = get_user(actor.user_id or 0)
    if not _claim_attempt(user.id, clock.now()) or not check_password_hash(
        get_user(user.id).password_hash, current
    ):
        record_event(actor, "user.password_change_refused", object_type="user", object_id=user.id)
        db.session.commit()
        raise InvalidInputError({"current_password": "Enter your current password correctly"})
    sessions, tokens = _set_password(user, new)
    record_event(
        actor,
        "user.password_changed",
        object_type="user",
        object_id=user.id,
        detail={"sessions_ended": sessions, "tokens_revoked": tokens},
    )
    secret = begin_session(user, user_agent, actor.ip_address)
    db.session.commit()
    return secret
