"""The scheduler: fire due timers, one instance per transaction, safe with many schedulers."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import InstanceStatus, PathwayInstanceModel, TimerModel
from mdt.models.types import utcnow
from mdt.services.actor import SYSTEM
from mdt.services.instances import fire_due_timers

log = logging.getLogger(__name__)


def due_instance_ids(now: datetime, limit: int = 500) -> list[int]:
    query = (
        select(TimerModel.instance_id)
        .where(TimerModel.due_at <= now)
        .group_by(TimerModel.instance_id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def _lock(instance_id: int) -> PathwayInstanceModel | None:
    query = select(PathwayInstanceModel).where(
        PathwayInstanceModel.id == instance_id,
        PathwayInstanceModel.status == InstanceStatus.RUNNING,
    )
    if db.engine.dialect.name == "postgresql":
        # Another scheduler or a web worker holds it: skip it now, it stays due.
        query = query.with_for_update(skip_locked=True)
    return db.session.scalar(query)


def run_pass(now: datetime | None = None, limit: int = 500) -> int:
    """One pass over due timers; returns how many instances were advanced."""
    now = now or utcnow()
    fired = 0
    for instance_id in due_instance_ids(now, limit):
        try:
            instance = _lock(instance_id)
            if instance is None:
                db.session.rollback()
                continue
            fire_due_timers(SYSTEM, instance, now)
            db.session.commit()
            fired += 1
        except Exception:  # one bad instance must not stop the others
            db.session.rollback()
            log.exception("Firing timers failed for instance %s", instance_id)
    return fired
