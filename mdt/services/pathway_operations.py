"""Where patients are on a pathway version: who waits at which task, and who is paused.

Counts come from the indexed task table (never from deserializing workflows), so the
view stays as fast at 50,000 patients as at 50.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    PatientModel,
    TaskStatus,
)
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.errors import PermissionDeniedError


@dataclass(frozen=True)
class TaskWaiting:
    bpmn_id: str
    name: str
    count: int


@dataclass(frozen=True)
class PausedPathway:
    instance_id: int
    patient: PatientModel
    error: str
    since: datetime


@dataclass(frozen=True)
class Operations:
    tasks: list[TaskWaiting]
    by_element: dict[str, int]  # every element id to light up, call activities included
    paused: list[PausedPathway]


def operations(actor: Actor, version_id: int) -> Operations:
    if not actor.has_role(Role.MANAGER):
        raise PermissionDeniedError("Only service managers see pathway operations.")
    rows = db.session.execute(
        select(
            HumanTaskModel.bpmn_id,
            HumanTaskModel.call_path,
            func.min(HumanTaskModel.name),
            func.count(),
        )
        .join(PathwayInstanceModel, PathwayInstanceModel.id == HumanTaskModel.instance_id)
        .where(
            PathwayInstanceModel.pathway_version_id == version_id,
            PathwayInstanceModel.status == InstanceStatus.RUNNING,
            HumanTaskModel.status == TaskStatus.READY,
        )
        .group_by(HumanTaskModel.bpmn_id, HumanTaskModel.call_path)
    ).all()
    tasks: Counter[tuple[str, str]] = Counter()
    by_element: Counter[str] = Counter()
    for bpmn_id, call_path, name, count in rows:
        tasks[(bpmn_id, name)] += count
        by_element[bpmn_id] += count
        # A task inside a called process also counts on the call activity that called it.
        for caller in set(call_path.split()):
            by_element[caller] += count
    waiting = [TaskWaiting(b, n, c) for (b, n), c in tasks.items()]
    waiting.sort(key=lambda t: (-t.count, t.name))
    return Operations(tasks=waiting, by_element=dict(by_element), paused=_paused(version_id))


def _paused(version_id: int) -> list[PausedPathway]:
    instances = db.session.scalars(
        select(PathwayInstanceModel)
        .options(joinedload(PathwayInstanceModel.patient))
        .where(
            PathwayInstanceModel.pathway_version_id == version_id,
            PathwayInstanceModel.status == InstanceStatus.ERROR,
        )
        .order_by(PathwayInstanceModel.updated_at)
    )
    return [
        PausedPathway(i.id, i.patient, i.error_message or "Unknown error", i.updated_at)
        for i in instances
    ]
