"""Who is doing a task: claim, release and (coordinators, managers) reassign."""

from __future__ import annotations

from sqlalchemy import select

from mdt import clock
from mdt.extensions import db
from mdt.models import HumanTaskModel, TaskStatus, UserModel, UserRoleModel
from mdt.services.actor import Actor
from mdt.services.audit import record_task_event
from mdt.services.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from mdt.services.policy import REASSIGNERS


def _open_task(task_id: int) -> HumanTaskModel:
    task = db.session.get(HumanTaskModel, task_id)
    if task is None:
        raise NotFoundError("No such task")
    if task.status != TaskStatus.READY:
        raise ConflictError("This task is no longer waiting to be done.")
    return task


def claim_task(actor: Actor, task_id: int) -> HumanTaskModel:
    task = _open_task(task_id)
    if task.role is None or not actor.has_role(task.role):
        raise PermissionDeniedError("This task is for another role.")
    if task.assigned_to_id not in (None, actor.user_id):
        who = task.assigned_to.display_name if task.assigned_to else "A colleague"
        raise ConflictError(f"{who} is already doing this task.")
    task.assigned_to_id = actor.user_id
    record_task_event(actor, "task.claimed", task)
    db.session.commit()
    return task


def release_task(actor: Actor, task_id: int) -> HumanTaskModel:
    task = _open_task(task_id)
    if task.assigned_to_id != actor.user_id and not actor.has_role(*REASSIGNERS):
        raise PermissionDeniedError(
            "Only the person doing the task, a coordinator or a manager can release it."
        )
    task.assigned_to_id = None
    record_task_event(actor, "task.released", task)
    db.session.commit()
    return task


def reassign_task(actor: Actor, task_id: int, user_id: int) -> HumanTaskModel:
    if not actor.has_role(*REASSIGNERS):
        raise PermissionDeniedError("Only coordinators and managers reassign tasks.")
    task = _open_task(task_id)
    user = db.session.get(UserModel, user_id)
    if user is None or not user.active:
        raise InvalidInputError({"user_id": "Select a colleague with an active account"})
    if task.role not in user.roles:
        raise InvalidInputError(
            {"user_id": f"{user.display_name} does not hold the role this task needs"}
        )
    task.assigned_to_id = user.id
    record_task_event(actor, "task.reassigned", task, {"to": user.username})
    db.session.commit()
    return task


def colleagues_for(role: str) -> list[UserModel]:
    """Active users who hold ``role``: who a task can be given to."""
    return list(
        db.session.scalars(
            select(UserModel)
            .join(UserRoleModel)
            .where(UserRoleModel.role == role, UserModel.active.is_(True))
            .order_by(UserModel.display_name)
        )
    )


def save_draft(actor: Actor, task_id: int, values: dict[str, object]) -> HumanTaskModel:
    """Keep what someone has typed so far; nothing is validated or sent to the pathway."""
    task = _open_task(task_id)
    if task.role is None or not actor.has_role(task.role):
        raise PermissionDeniedError("This task is for another role.")
    if task.assigned_to_id not in (None, actor.user_id):
        raise ConflictError("This task is assigned to someone else.")
    task.draft = values
    task.draft_saved_at = clock.now()
    task.draft_saved_by_id = actor.user_id
    record_task_event(actor, "task.draft_saved", task)
    db.session.commit()
    return task
