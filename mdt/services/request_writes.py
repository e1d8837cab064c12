"""Bookkeeping a request writes beside its use case: a session's ``last_seen_at``, a token's
``last_used_at`` and its ``token.used`` audit row.

These are written at most once a minute, inside the request's own transaction, so they cost
no commit of their own: the use case's commit carries them. A request that ends without
committing them (a read that writes nothing, a refusal, a failure rolled back) has them
written again in one small transaction of its own when it ends (``settle``), so no use goes
unrecorded. Each write is conditional on the value it read, so two requests within the same
minute write once between them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from mdt.extensions import db

Write = Callable[[], None]
_PENDING = "mdt.bookkeeping"  # written in the open transaction, not yet committed
_LOST = "mdt.bookkeeping.lost"  # written, then rolled back with what it rode on


def write_with_request(write: Write) -> None:
    """Run ``write`` (it flushes or executes, never commits) in the request's transaction and
    remember it until a commit carries it."""
    write()
    db.session.info.setdefault(_PENDING, []).append(write)


def settle() -> None:
    """At the end of a request: commit the bookkeeping no commit carried, in a transaction of
    its own (whatever else the request left uncommitted is discarded, as it would be)."""
    info = db.session.info
    writes = info.pop(_LOST, []) + info.pop(_PENDING, [])
    if not writes:
        return
    db.session.rollback()
    info.pop(_LOST, None)
    for write in writes:
        write()
    db.session.commit()
    info.pop(_PENDING, None)


@event.listens_for(Session, "after_commit")
def _carried(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None and _PENDING in session.info:  # the outermost one
        session.info.setdefault(_LOST, []).extend(session.info.pop(_PENDING))
