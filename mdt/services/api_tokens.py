"""Personal API tokens: created (shown once), used, revoked; their use audited once a minute.

A token acts for its owner with the owner's roles, so the API applies exactly the rules the
screens apply. Each token lasts 30, 90 or 365 days (chosen when it is made) and has a scope:
"read" tokens may only read (GET), "write" tokens may read and write. A password reset or
a deactivation revokes every token of the account. The secret has 256 random bits, so a plain SHA-256 of it is enough to store
(a slow password hash protects guessable secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from mdt import clock
from mdt.extensions import db
from mdt.models import ApiTokenModel, UserModel
from mdt.models.roles import Role
from mdt.services.actor import SYSTEM, Actor
from mdt.services.audit import record_event
from mdt.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from mdt.services.request_writes import write_with_request

SECRET_PREFIX = "mdt_"  # noqa: S105 - marks our tokens in logs and scanners, not a secret
LIFETIMES_DAYS = (30, 90, 365)
DEFAULT_DAYS = 90
SCOPES = {"read": "Read only", "write": "Read and write"}
REVOKED = "revoked"
# A token's use is recorded (``last_used_at`` and one ``token.used`` audit row) at most once
# a minute: an integration polling every second would otherwise write a row per call.
USE_RECORDED_EVERY = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _may_manage(actor: Actor, user_id: int) -> bool:
    return actor is SYSTEM or actor.user_id == user_id or actor.has_role(Role.ADMIN)


def create_token(
    actor: Actor, user_id: int, name: str, *, days: int = DEFAULT_DAYS, scope: str = "write"
) -> tuple[ApiTokenModel, str]:
    """A new token for a user (their own, or any when an administrator), lasting ``days``
    (30, 90 or 365) with a scope ("read" or "write"); returns the token and its secret,
    which is never shown again."""
    if not _may_manage(actor, user_id):
        raise PermissionDeniedError("You can only create tokens for yourself.")
    name = name.strip()
    errors = {}
    if not name:
        errors["name"] = "Enter a name for the token, such as the system using it"
    elif len(name) > 100:
        errors["name"] = "The name must be 100 characters or fewer"
    if days not in LIFETIMES_DAYS:
        errors["days"] = "Select how long the token lasts"
    if scope not in SCOPES:
        errors["scope"] = "Select what the token may do"
    if errors:
        raise InvalidInputError(errors)
    user = db.session.get(UserModel, user_id)
    if user is None or not user.active:
        raise NotFoundError("There is no active account with that name.")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiTokenModel(
        user_id=user_id,
        name=name,
        prefix=secret[:12],
        secret_hash=_digest(secret),
        created_at=now,
        expires_at=now + timedelta(days=days),
        scope=scope,
    )
    db.session.add(token)
    db.session.flush()
    record_event(
        actor,
        "token.created",
        object_type="api_token",
        object_id=token.id,
        detail={
            "name": name,
            "prefix": token.prefix,
            "for": user.username,
            "days": days,
            "scope": scope,
        },
    )
    db.session.commit()
    return token, secret


def tokens_of(actor: Actor) -> list[ApiTokenModel]:
    return list(
        db.session.scalars(
            select(ApiTokenModel)
            .where(ApiTokenModel.user_id == actor.user_id)
            .order_by(ApiTokenModel.revoked_at.is_not(None), ApiTokenModel.created_at.desc())
        )
    )


def revoke_token(actor: Actor, token_id: int) -> ApiTokenModel:
    token = db.session.get(ApiTokenModel, token_id)
    if token is None or not _may_manage(actor, token.user_id):
        raise NotFoundError("There is no such token.")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.revoked_reason = REVOKED
        record_event(
            actor,
            "token.revoked",
            object_type="api_token",
            object_id=token.id,
            detail={"name": token.name, "prefix": token.prefix},
        )
        db.session.commit()
    return token


def revoke_tokens_of(user_id: int, reason: str) -> int:
    """Inner operation: revoke every unrevoked token of a user (a password reset, a
    deactivation); returns how many there were."""
    result = db.session.execute(
        update(ApiTokenModel)
        .where(ApiTokenModel.user_id == user_id, ApiTokenModel.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


READ_ONLY = (
    "This token may only read. Create a token that may read and write on your account page "
    "to change anything through the API."
)


def user_for_token(secret: str, ip_address: str | None, writes: bool = False) -> UserModel | None:
    """The active owner of a valid (unrevoked, unexpired) token, or None. Every refusal is
    audited (and committed: the request ends there); a use is recorded at most once a minute
    per token, inside the request's own transaction (``request_writes``). A call that
    ``writes`` with a read-only token is refused (PermissionDeniedError). One lookup of the
    token with its owner and their roles per call (one statement)."""
    token = db.session.scalar(
        select(ApiTokenModel)
        .options(joinedload(ApiTokenModel.user).joinedload(UserModel.role_rows))
        .where(ApiTokenModel.secret_hash == _digest(secret))
    )
    now = clock.now()
    refusal = (
        "unknown" if token is None
        else "revoked" if token.revoked_at is not None
        else "expired" if token.expires_at <= now
        else "inactive" if not token.user.active
        else "read only" if writes and not token.can_write
        else None
    )  # fmt: skip
    if token is None or refusal is not None:
        who = Actor(None, "api token", frozenset(), ip_address)
        detail = {"prefix": secret[:12], "reason": refusal}
        record_event(who, "token.refused", object_type="api_token",
                     object_id=token.id if token else None, detail=detail)  # fmt: skip
        db.session.commit()
        if refusal == "read only":
            raise PermissionDeniedError(READ_ONLY)
        return None
    user = token.user
    if token.last_used_at is None or now - token.last_used_at >= USE_RECORDED_EVERY:
        who = Actor(user.id, user.username, user.roles, ip_address)
        write_with_request(
            partial(_record_use, token.id, token.prefix, token.last_used_at, now, who)
        )
    return user


def _record_use(
    token_id: int, prefix: str, last_used: datetime | None, now: datetime, who: Actor
) -> None:
    """The token's use this minute: ``last_used_at`` moved on and one ``token.used`` row,
    written only by the request whose update finds ``last_used_at`` as it was read (so two
    calls in the same minute write once between them)."""
    moved = db.session.execute(
        update(ApiTokenModel)
        .where(
            ApiTokenModel.id == token_id,
            ApiTokenModel.last_used_at.is_(None)
            if last_used is None
            else ApiTokenModel.last_used_at == last_used,
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        detail = {"prefix": prefix}
        record_event(who, "token.used", object_type="api_token", object_id=token_id, detail=detail)
