"""Signed-in sessions, kept on the server.

The browser's cookie holds only a random secret (256 bits) naming a row of ``user_session``;
a SHA-256 of it is stored, never the secret. Every request looks the row up: a session that
was ended (signed out, password reset, deactivated), has been idle too long or is older than
the absolute limit is no session, whatever cookie comes with it. ``last_seen_at`` is moved on
at most once a minute, so an active user costs one small write a minute, not one a request,
and that write rides on the request's own transaction (``request_writes``): no extra commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from mdt import clock
from mdt.extensions import db
from mdt.models import SessionModel, UserModel
from mdt.services.request_writes import write_with_request

TOUCH_EVERY = timedelta(minutes=1)

SIGNED_OUT = "signed out"
IDLE = "idle"
EXPIRED = "expired"
PASSWORD_RESET = "password reset"  # noqa: S105 - a reason, not a secret
DEACTIVATED = "deactivated"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class LiveSession:
    """A session found valid for this request; ``touched`` when last_seen_at moved on."""

    user: UserModel
    touched: bool


def begin_session(user: UserModel, user_agent: str | None, ip_address: str | None) -> str:
    """Inner operation: a new session for a user who has just signed in; returns its secret
    (for the cookie only)."""
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    db.session.add(
        SessionModel(
            secret_hash=_digest(secret),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            user_agent=(user_agent or "")[:200] or None,
            ip_address=(ip_address or "")[:45] or None,
        )
    )
    db.session.flush()
    return secret


def end_sessions_of(user_id: int, reason: str) -> int:
    """Inner operation: end every open session of a user; returns how many were open."""
    result = db.session.execute(
        update(SessionModel)
        .where(SessionModel.user_id == user_id, SessionModel.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def end_session(secret: str, reason: str = SIGNED_OUT) -> None:
    """Use case: end one session (signing out). Unknown or already ended: nothing to do."""
    db.session.execute(
        update(SessionModel)
        .where(SessionModel.secret_hash == _digest(secret), SessionModel.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
    )
    db.session.commit()


def live_session(secret: str, idle: timedelta, longest: timedelta) -> LiveSession | None:
    """Use case, run once per request: the session's active user, or None when the session
    is unknown, ended, idle for ``idle`` or older than ``longest``. A session found idle or
    too old is ended there and then (so the record says why: that request ends there, so
    this is its one commit); a live one is touched inside the request's transaction."""
    if not secret or len(secret) > 200:
        return None
    row = db.session.scalar(
        select(SessionModel)
        .options(joinedload(SessionModel.user))
        .where(SessionModel.secret_hash == _digest(secret))
    )
    if row is None or row.ended_at is not None:
        return None
    now = clock.now()
    reason = _lapsed(row, now, idle, longest)
    if reason is None and not row.user.active:
        reason = DEACTIVATED
    if reason is not None:
        row.ended_at, row.end_reason = now, reason
        db.session.commit()
        return None
    if now - row.last_seen_at < TOUCH_EVERY:
        return LiveSession(row.user, touched=False)
    # Written with the request's own transaction (no commit of its own), conditional on the
    # value read, so two requests in the same minute write once between them.
    write_with_request(partial(_touch, row.id, row.last_seen_at, now))
    return LiveSession(row.user, touched=True)


def _touch(session_id: int, seen: datetime, now: datetime) -> None:
    db.session.execute(
        update(SessionModel)
        .where(SessionModel.id == session_id, SessionModel.last_seen_at == seen)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def _lapsed(row: SessionModel, now: datetime, idle: timedelta, longest: timedelta) -> str | None:
    if now - row.created_at >= longest:
        return EXPIRED
    if now - row.last_seen_at >= idle:
        return IDLE
    return None
