"""Worklists: one indexed query on the task table; no workflow is ever loaded here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import contains_eager

from mdt.extensions import db
from mdt.models import HumanTaskModel, TaskStatus
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import NotFoundError, PermissionDeniedError


@dataclass(frozen=True)
class WorklistPage:
    tasks: list[HumanTaskModel]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def due_flag(task: HumanTaskModel, now: datetime, soon_days: int) -> str | None:
    if task.due_at is None or task.status != TaskStatus.READY:
        return None
    if task.due_at < now:
        return "overdue"
    if task.due_at < now + timedelta(days=soon_days):
        return "due-soon"
    return None


def worklist(
    actor: Actor, roles: Iterable[str] | None = None, page: int = 1, page_size: int = 50
) -> WorklistPage:
    """Ready tasks for the actor's roles (or a subset of them), soonest due first."""
    wanted = set(roles or actor.roles) & set(actor.roles)
    condition: ColumnElement[bool] = HumanTaskModel.role.in_(sorted(wanted))
    if actor.user_id is not None:
        condition = or_(condition, HumanTaskModel.assigned_to_id == actor.user_id)
    base = select(HumanTaskModel).where(HumanTaskModel.status == TaskStatus.READY, condition)
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    query = (
        base.join(HumanTaskModel.patient)
        .options(contains_eager(HumanTaskModel.patient))
        .order_by(HumanTaskModel.due_at.is_(None), HumanTaskModel.due_at, HumanTaskModel.id)
        .limit(page_size)
        .offset((max(page, 1) - 1) * page_size)
    )
    return WorklistPage(list(db.session.scalars(query)), total, max(page, 1), page_size)


def open_task(actor: Actor, task_id: int) -> HumanTaskModel:
    """A task for its page; seeing it shows patient data, so it is audited."""
    task = db.session.get(HumanTaskModel, task_id)
    if task is None:
        raise NotFoundError("No such task")
    if not actor.has_role(*(task.role or "-",)) and task.assigned_to_id != actor.user_id:
        raise PermissionDeniedError("This task is for another role.")
    record_event(
        actor,
        "task.viewed",
        patient_id=task.patient_id,
        object_type="human_task",
        object_id=task.id,
    )
    db.session.commit()
    return task
