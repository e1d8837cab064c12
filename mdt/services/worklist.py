"""Worklists: one indexed query on the task table; no workflow is ever loaded here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import contains_eager

from mdt.extensions import db
from mdt.models import HumanTaskModel, PatientModel, TaskStatus
from mdt.services.actor import Actor
from mdt.services.audit import record_task_event
from mdt.services.errors import NotFoundError
from mdt.services.policy import may_open_task, require

VIEWS = {
    "waiting": "Waiting for my roles",
    "mine": "Assigned to me",
    "team": "My team's tasks",
}
SORTS = {
    "due": "Due date",
    "patient": "Patient",
    "task": "Task",
    "waiting": "Longest waiting",
}
DUE_FILTERS = {"overdue": "Overdue", "soon": "Due soon"}
COUNT_CAP = 1000


@dataclass(frozen=True)
class WorklistQuery:
    view: str = "waiting"
    roles: tuple[str, ...] = ()
    due: str | None = None
    sort: str = "due"
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class WorklistPage:
    tasks: list[HumanTaskModel]
    total: int
    counts: dict[str, int]
    query: WorklistQuery

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, COUNT_CAP) // self.query.page_size))

    @staticmethod
    def shown(count: int) -> str:
        return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


def due_flag(task: HumanTaskModel, now: datetime, soon_days: int) -> str | None:
    if task.due_at is None or task.status != TaskStatus.READY:
        return None
    if task.due_at < now:
        return "overdue"
    if task.due_at < now + timedelta(days=soon_days):
        return "due-soon"
    return None


def _view_condition(actor: Actor, view: str, roles: set[str]) -> ColumnElement[bool]:
    for_roles = HumanTaskModel.role.in_(sorted(roles))
    # (a system actor has no id: "assigned to nobody" must not count as its own)
    mine = HumanTaskModel.assigned_to_id == actor.user_id if actor.user_id else false()
    if view == "mine":
        return mine
    if view == "team":
        return for_roles
    return and_(for_roles, or_(HumanTaskModel.assigned_to_id.is_(None), mine))


def _due_condition(due: str | None, now: datetime, soon_days: int) -> ColumnElement[bool]:
    if due == "overdue":
        return HumanTaskModel.due_at < now
    if due == "soon":
        return and_(
            HumanTaskModel.due_at >= now, HumanTaskModel.due_at < now + timedelta(days=soon_days)
        )
    return true()


def _order(sort: str) -> list[Any]:
    # Plain "due_at NULLS LAST" so that PostgreSQL can walk the worklist index in order.
    by_due = [HumanTaskModel.due_at.asc().nulls_last()]
    orders: dict[str, list[Any]] = {
        "patient": [PatientModel.family_name, PatientModel.given_name, *by_due],
        "task": [HumanTaskModel.name, *by_due],
        "waiting": [HumanTaskModel.created_at],
    }
    return [*orders.get(sort, by_due), HumanTaskModel.id]


def worklist(actor: Actor, query: WorklistQuery, now: datetime, soon_days: int) -> WorklistPage:
    """Ready tasks for a view of the actor's work: plain indexed queries on the task table."""
    roles = set(query.roles or actor.roles) & set(actor.roles)
    ready = HumanTaskModel.status == TaskStatus.READY
    due = _due_condition(query.due, now, soon_days)
    views = {view: _view_condition(actor, view, roles) for view in VIEWS}
    # Counts stop at COUNT_CAP: a backlog of thousands costs the same as one of a thousand
    # (the page shows "1,000+"), so the list stays fast however far behind a team is.
    capped = [
        select(func.count())
        .select_from(
            select(HumanTaskModel.id).where(ready, due, cond).limit(COUNT_CAP + 1).subquery()
        )
        .scalar_subquery()
        for cond in views.values()
    ]
    counted = db.session.execute(select(*capped)).one()  # one round trip for all three
    counts = {view: int(n or 0) for view, n in zip(views, counted, strict=True)}
    page = max(query.page, 1)
    # The page's ids first (from the index alone), then those rows with their patients.
    page_ids = (
        select(HumanTaskModel.id)
        .where(ready, due, views[query.view])
        .order_by(*_order(query.sort))
        .limit(query.page_size)
        .offset((page - 1) * query.page_size)
    )
    if query.sort == "patient":
        page_ids = page_ids.join(HumanTaskModel.patient)
    ids = list(db.session.scalars(page_ids))
    rows = db.session.scalars(
        select(HumanTaskModel)
        .join(HumanTaskModel.patient)
        .options(contains_eager(HumanTaskModel.patient))
        .where(HumanTaskModel.id.in_(ids))
    )
    position = {task_id: index for index, task_id in enumerate(ids)}
    tasks = sorted(rows, key=lambda task: position[task.id])
    return WorklistPage(tasks, counts.get(query.view, 0), counts, query)


def task_for_submission(actor: Actor, task_id: int) -> HumanTaskModel:
    """The task a form was posted to, checked like open_task but not audited as a view:
    the completion that follows is the audited event."""
    task = db.session.get(HumanTaskModel, task_id)
    if task is None:
        raise NotFoundError("No such task")
    require(may_open_task(actor, task), "This task is for another role.")
    return task


def open_task(actor: Actor, task_id: int) -> HumanTaskModel:
    """A task for its page; seeing it shows patient data, so it is audited."""
    task = task_for_submission(actor, task_id)
    record_task_event(actor, "task.viewed", task)
    db.session.commit()
    return task
