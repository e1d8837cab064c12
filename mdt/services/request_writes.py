"""Bookkeeping a request writes beside its use case: a session's ``last_seen_at``, a token's
``last_used_at`` and its ``token.used`` audit row.

These are written at most once a minute, with the request's own transaction: they are kept
aside until the request commits and written just before that commit, so they cost no commit
(and hold no lock) of their own. A request that ends without committing (a read that writes
nothing, a refusal, a failure rolled back) has them written in one small transaction of
their own when it ends (``settle``), so no use goes unrecorded. Each write is conditional on
the value the request read, so two requests within the same minute write once between them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from mdt.extensions import db

Write = Callable[[], None]
_PENDING = "mdt.bookkeeping"


def write_with_request(write: Write) -> None:
    """Have ``write`` (it executes or adds, never commits) done just before the request's
    commit, or when the request ends if it commits nothing."""
    db.session.info.setdefault(_PENDING, []).append(write)


def settle() -> None:
    """At the end of a request: the bookkeeping no commit carried, in a transaction of its own
    (whatever else the request left uncommitted is discarded, as it would be)."""
    if not db.session.info.get(_PENDING):
        return
    db.session.rollback()
    db.session.commit()  # the writes are done by _before_commit


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the writes go with the outermost commit
    for write in session.info.get(_PENDING, ()):
        write()


@event.listens_for(Session, "after_commit")
def _carried(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_PENDING, None)
