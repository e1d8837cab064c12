"""Worklists: one indexed query on the task table; no workflow is ever loaded here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, or_, select, true
from sqlalchemy.orm import contains_eager

from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    PathwayInstanceModel,
    PathwayVersionModel,
    PatientModel,
    TaskStatus,
)
from mdt.models.roles import TASK_ROLES
from mdt.services.actor import Actor
from mdt.services.audit import record_task_event
from mdt.services.errors import NotFoundError
from mdt.services.pathway_choice import startable_pathways
from mdt.services.patient_identity import fold, nhs_digits
from mdt.services.policy import REASSIGNERS, may_open_task, require

VIEWS = {
    "waiting": "Waiting for my roles",
    "mine": "Assigned to me",
    "team": "My team's tasks",
}
SORTS = {
    "due": "Due date",
    "patient": "Patient",
    "task": "Task",
    "received": "Received",
}
SORT_ALIASES = {"waiting": "received"}  # the name the longest-waiting order had before
DUE_FILTERS = {
    "overdue": "Overdue",
    "today": "Due today",
    "week": "Due this week",
    "none": "No due date",
}
COUNT_CAP = 1000
SEARCH_MAX = 100  # characters of a patient search that are read


@dataclass(frozen=True)
class WorklistQuery:
    view: str = "waiting"
    roles: tuple[str, ...] = ()
    due: str | None = None  # a DUE_FILTERS key, or "soon" (within MDT_DUE_SOON_DAYS)
    sort: str = "due"
    descending: bool = False
    page: int = 1
    page_size: int = 50
    search: str = ""  # the patient: names in any order, or the NHS number from its start
    task_name: str | None = None
    standard: str | None = None
    pathway: str | None = None  # a pathway's key: its tasks only

    @property
    def filtered(self) -> bool:
        return bool(self.due or self.search or self.task_name or self.standard or self.pathway)


@dataclass(frozen=True)
class WorklistPage:
    tasks: list[HumanTaskModel]
    total: int
    counts: dict[str, int]
    query: WorklistQuery
    task_names: list[str] = field(default_factory=list)  # what the task filter offers
    # The published pathways (key, title): the pathway filter shows when there are several.
    pathways: list[tuple[str, str]] = field(default_factory=list)

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
    due_at = HumanTaskModel.due_at
    midnight = datetime.combine(now.astimezone(LONDON).date(), time(), LONDON)
    tomorrow = _local_midnight(midnight, 1)
    monday = _local_midnight(midnight, 7 - midnight.weekday())
    conditions: dict[str, ColumnElement[bool]] = {
        "overdue": due_at < now,
        "today": and_(due_at >= now, due_at < tomorrow),
        "week": and_(due_at >= now, due_at < monday),  # from now to the end of Sunday
        "none": due_at.is_(None),
        "soon": and_(due_at >= now, due_at < now + timedelta(days=soon_days)),
    }
    return conditions.get(due or "", true())


def _local_midnight(midnight: datetime, days: int) -> datetime:
    # Days in London, not 24-hour steps: the clocks change on some nights.
    return datetime.combine(midnight.date() + timedelta(days=days), time(), LONDON)


def _patient_condition(search: str) -> ColumnElement[bool]:
    """Tasks of the patients a search finds: every word of the name (any order, partial),
    or the NHS number from its start (with or without spaces)."""
    text = search[:SEARCH_MAX]
    digits = nhs_digits(text)
    found: ColumnElement[bool]
    if len(digits) >= 3 and digits.isdigit():
        found = PatientModel.nhs_number.like(f"{digits}%")
    else:
        words = fold(text).split()
        if not words:
            return true()
        found = and_(
            *(PatientModel.search_name.like(f"%{_escaped(word)}%", escape="\\") for word in words)
        )
    return HumanTaskModel.patient_id.in_(select(PatientModel.id).where(found))


def _escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(query: WorklistQuery, now: datetime, soon_days: int) -> list[ColumnElement[bool]]:
    conditions = [_due_condition(query.due, now, soon_days)]
    if query.search.strip():
        conditions.append(_patient_condition(query.search))
    if query.task_name:
        conditions.append(HumanTaskModel.name == query.task_name)
    if query.standard:
        # standards holds the task's codes comma-separated ("IS1,TC2")
        codes = literal(",") + HumanTaskModel.standards + literal(",")
        conditions.append(codes.like(f"%,{_escaped(query.standard)},%", escape="\\"))
    if query.pathway:
        on_pathway = (
            select(PathwayInstanceModel.id)
            .join(PathwayInstanceModel.pathway_version)
            .where(PathwayVersionModel.key == query.pathway)
        )
        conditions.append(HumanTaskModel.instance_id.in_(on_pathway))
    return conditions


def _order(sort: str, descending: bool) -> list[Any]:
    # Plain "due_at NULLS LAST" so that PostgreSQL can walk the worklist index in order.
    by_due = [HumanTaskModel.due_at.asc().nulls_last()]
    if descending:
        by_due = [HumanTaskModel.due_at.desc().nulls_last()]
    turn = (lambda column: column.desc()) if descending else (lambda column: column.asc())
    orders: dict[str, list[Any]] = {
        "patient": [turn(PatientModel.family_name), turn(PatientModel.given_name), *by_due],
        "task": [turn(HumanTaskModel.name), *by_due],
        "received": [turn(HumanTaskModel.created_at)],
    }
    return [*orders.get(sort, by_due), turn(HumanTaskModel.id)]


def task_names(view: ColumnElement[bool]) -> list[str]:
    """The names of the tasks waiting in a view (what the task filter offers)."""
    return list(
        db.session.scalars(
            select(HumanTaskModel.name)
            .where(HumanTaskModel.status == TaskStatus.READY, view)
            .distinct()
            .order_by(HumanTaskModel.name)
        )
    )


def worklist(actor: Actor, query: WorklistQuery, now: datetime, soon_days: int) -> WorklistPage:
    """Ready tasks for a view of the actor's work: plain indexed queries on the task table."""
    # Coordinators and managers chase and give out every role's tasks: they may list any.
    allowed = set(TASK_ROLES) if actor.has_role(*REASSIGNERS) else set(actor.roles)
    roles = set(query.roles or actor.roles) & allowed
    ready = HumanTaskModel.status == TaskStatus.READY
    due = and_(*_filters(query, now, soon_days))
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
        .order_by(*_order(query.sort, query.descending))
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
    return WorklistPage(
        tasks,
        counts.get(query.view, 0),
        counts,
        query,
        task_names(views[query.view]),
        [(choice.key, choice.title) for choice in startable_pathways()],
    )


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
