"""Personal API tokens: created (shown once), used, revoked; every use audited.

A token acts for its owner with the owner's roles, so the API applies exactly the rules the
screens apply. The secret has 256 random bits, so a plain SHA-256 of it is enough to store
(a slow password hash protects guessable secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from mdt import clock
from mdt.extensions import db
from mdt.models import ApiTokenModel, UserModel
from mdt.models.roles import Role
from mdt.services.actor import SYSTEM, Actor
from mdt.services.audit import record_event
from mdt.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError

SECRET_PREFIX = "mdt_"  # noqa: S105 - marks our tokens in logs and scanners, not a secret


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _may_manage(actor: Actor, user_id: int) -> bool:
    return actor is SYSTEM or actor.user_id == user_id or actor.has_role(Role.ADMIN)


def create_token(actor: Actor, user_id: int, name: str) -> tuple[ApiTokenModel, str]:
    """A new token for a user (their own, or any when an administrator); returns the token
    and its secret, which is never shown again."""
    if not _may_manage(actor, user_id):
        raise PermissionDeniedError("You can only create tokens for yourself.")
    name = name.strip()
    if not name:
        raise InvalidInputError({"name": "Enter a name for the token, such as the system using it"})
    if len(name) > 100:
        raise InvalidInputError({"name": "The name must be 100 characters or fewer"})
    user = db.session.get(UserModel, user_id)
    if user is None or not user.active:
        raise NotFoundError("There is no active account with that name.")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiTokenModel(
        user_id=user_id, name=name, prefix=secret[:12], secret_hash=_digest(secret)
    )
    db.session.add(token)
    db.session.flush()
    record_event(
        actor,
        "token.created",
        object_type="api_token",
        object_id=token.id,
        detail={"name": name, "prefix": token.prefix, "for": user.username},
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
        record_event(
            actor,
            "token.revoked",
            object_type="api_token",
            object_id=token.id,
            detail={"name": token.name, "prefix": token.prefix},
        )
        db.session.commit()
    return token


def user_for_token(secret: str, ip_address: str | None) -> UserModel | None:
    """The active owner of a valid, unrevoked token, or None; both are audited."""
    token = db.session.scalar(
        select(ApiTokenModel).where(ApiTokenModel.secret_hash == _digest(secret))
    )
    if token is None or token.revoked_at is not None or not token.user.active:
        who = Actor(None, "api token", frozenset(), ip_address)
        detail = {"prefix": secret[:12], "reason": "unknown" if token is None else "revoked"}
        record_event(who, "token.refused", detail=detail)
        db.session.commit()
        return None
    token.last_used_at = clock.now()
    user = token.user
    who = Actor(user.id, user.username, user.roles, ip_address)
    record_event(
        who, "token.used", object_type="api_token", object_id=token.id,
        detail={"prefix": token.prefix},
    )  # fmt: skip
    db.session.commit()
    return user
