"""The scheduler: fire due timers, one instance per transaction, safe with many schedulers;
then record notifications and send e-mail."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from mdt import clock
from mdt.extensions import db
from mdt.models import InstanceStatus, PathwayInstanceModel, TimerModel
from mdt.services.actor import SYSTEM
from mdt.services.instances import fire_due_timers, record_failure
from mdt.services.notifications import email_pass, notify_pass
from mdt.services.settings import setting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassResult:
    advanced: int
    notified: int
    emailed: int


def due_instance_ids(now: datetime, limit: int = 500) -> list[int]:
    query = (
        select(TimerModel.instance_id)
        .where(TimerModel.due_at <= now)
        .group_by(TimerModel.instance_id)
        .order_by(func.min(TimerModel.due_at))
        .limit(limit)
    )
    return list(db.session.scalars(query))


def next_due_at() -> datetime | None:
    return db.session.scalar(select(func.min(TimerModel.due_at)))


def _lock(instance_id: int, now: datetime) -> PathwayInstanceModel | None:
    query = select(PathwayInstanceModel).where(
        PathwayInstanceModel.id == instance_id,
        PathwayInstanceModel.status == InstanceStatus.RUNNING,
    )
    if db.engine.dialect.name == "postgresql":
        # Another scheduler or a web worker holds it: skip it now, it stays due.
        query = query.with_for_update(skip_locked=True)
    instance = db.session.scalar(query)
    if instance is None:
        return None
    # Someone may have fired it between our list and our lock: nothing due means nothing to do.
    still_due = db.session.scalar(
        select(func.count(TimerModel.id)).where(
            TimerModel.instance_id == instance_id, TimerModel.due_at <= now
        )
    )
    return instance if still_due else None


def fire_due(now: datetime, limit: int = 500, budget_seconds: float | None = None) -> int:
    """Fire due timers; returns how many instances were advanced.

    One patient's pathway never stops the others: a failure pauses that instance (its last
    good state kept, the managers told) and the pass moves on. A pass spends at most
    ``budget_seconds`` (MDT_SCHEDULER_BUDGET_SECONDS) firing: what is left stays due for the
    next pass, and the notifications after it still run."""
    if budget_seconds is None:
        budget_seconds = float(setting("MDT_SCHEDULER_BUDGET_SECONDS"))  # type: ignore[arg-type]
    stop_at = time.monotonic() + budget_seconds
    fired = 0
    for instance_id in due_instance_ids(now, limit):
        if time.monotonic() > stop_at:
            log.warning("Scheduler pass out of time; the rest stay due for the next pass")
            break
        try:
            instance = _lock(instance_id, now)
            if instance is None:
                db.session.rollback()
                continue
            fire_due_timers(SYSTEM, instance, now)
            db.session.commit()
            fired += 1
        except OperationalError:
            db.session.rollback()  # the database itself: nothing to record it in
            log.exception("Firing timers failed for instance %s", instance_id)
        except Exception as error:  # one bad instance must not stop the others
            log.exception("Firing timers failed for instance %s; pausing it", instance_id)
            try:
                record_failure(SYSTEM, instance_id, error)
            except Exception:
                db.session.rollback()
                log.exception("Could not pause instance %s", instance_id)
    return fired


def run_pass(now: datetime | None = None, limit: int = 500) -> PassResult:
    """One scheduler pass: timers, then notifications, then e-mail."""
    now = now or clock.now()
    advanced = fire_due(now, limit)
    notified = notify_pass(clock.now())
    emailed = email_pass(clock.now())
    return PassResult(advanced, notified, emailed)
