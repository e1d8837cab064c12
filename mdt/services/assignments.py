"""Who is doing a task: claim, release and (coordinators, managers) reassign, one task or
several at once."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, update

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
    """Take a task. The claim is one conditional UPDATE (still ready, nobody else's), so of
    two people claiming at the same moment exactly one gets it and the other is told who."""
    task = _open_task(task_id)
    if task.role is None or not actor.has_role(task.role):
        raise PermissionDeniedError("This task is for another role.")
    if task.assigned_to_id not in (None, actor.user_id):
        who = task.assigned_to.display_name if task.assigned_to else "A colleague"
        raise ConflictError(f"{who} is already doing this task.")
    claimed = db.session.execute(
        update(HumanTaskModel)
        .where(
            HumanTaskModel.id == task_id,
            HumanTaskModel.status == TaskStatus.READY,
            or_(
                HumanTaskModel.assigned_to_id.is_(None),
                HumanTaskModel.assigned_to_id == actor.user_id,
            ),
        )
        .values(assigned_to_id=actor.user_id)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        db.session.rollback()
        raise ConflictError(_taken_by_then(task_id))
    record_task_event(actor, "task.claimed", task)
    db.session.commit()
    db.session.refresh(task)
    return task


def _taken_by_then(task_id: int) -> str:
    """Why a claim found the task gone: who took it (or that it was done) a moment ago."""
    task = db.session.get(HumanTaskModel, task_id)
    if task is None or task.status != TaskStatus.READY:
        return "This task has just been done or is no longer needed."
    who = task.assigned_to.display_name if task.assigned_to else "A colleague"
    return f"{who} has just taken this task."


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


def _colleague(user_id: int) -> UserModel:
    user = db.session.get(UserModel, user_id)
    if user is None or not user.active:
        raise InvalidInputError({"user_id": "Select a colleague with an active account"})
    return user


def _give(actor: Actor, task: HumanTaskModel, user: UserModel) -> None:
    """Inner operation: give one open task to a colleague who holds its role (flushes)."""
    if task.role not in user.roles:
        raise InvalidInputError(
            {"user_id": f"{user.display_name} does not hold the role ‘{task.name}’ needs"}
        )
    task.assigned_to_id = user.id
    record_task_event(actor, "task.reassigned", task, {"to": user.username})


def reassign_task(actor: Actor, task_id: int, user_id: int) -> HumanTaskModel:
    if not actor.has_role(*REASSIGNERS):
        raise PermissionDeniedError("Only coordinators and managers reassign tasks.")
    task = _open_task(task_id)
    _give(actor, task, _colleague(user_id))
    db.session.commit()
    return task


def reassign_tasks(actor: Actor, task_ids: Sequence[int], user_id: int) -> list[HumanTaskModel]:
    """Give several tasks to one colleague at once: all or none (one transaction), each
    task's role checked and each change audited."""
    if not actor.has_role(*REASSIGNERS):
        raise PermissionDeniedError("Only coordinators and managers reassign tasks.")
    wanted = sorted(set(task_ids))
    if not wanted:
        raise InvalidInputError({"task_ids": "Select the tasks to give"})
    user = _colleague(user_id)
    tasks = list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(HumanTaskModel.id.in_(wanted))
            .order_by(HumanTaskModel.id)
            .with_for_update()
        )
    )
    if len(tasks) != len(wanted) or any(t.status != TaskStatus.READY for t in tasks):
        db.session.rollback()
        raise ConflictError(
            "Some of the selected tasks have been done or are no longer needed. "
            "Nothing was changed; select again from the list as it is now."
        )
    refused = [task.name for task in tasks if task.role not in user.roles]
    if refused:
        db.session.rollback()
        names = ", ".join(f"‘{name}’" for name in sorted(set(refused)))
        raise InvalidInputError(
            {"user_id": f"{user.display_name} does not hold the role {names} needs. "
             "Nothing was changed."}
        )  # fmt: skip
    for task in tasks:
        _give(actor, task, user)
    db.session.commit()
    return tasks


def colleagues_for(role: str) -> list[UserModel]:
    """Active users who hold ``role``: who a task can be given to."""
    return list(
        db.session.scalars(
            select(UserModel)
            .join(UserRoleModel)
            .where(UserRoleModel.role == role, UserModel.active.is_(True))
            .order_by(UserModel.display_name, UserModel.id)
        )
    )


def colleagues_for_roles(roles: set[str]) -> list[UserModel]:
    """Active users who hold any of ``roles``: who a set of tasks might be given to (each
    task's own role is checked when they are given)."""
    if not roles:
        return []
    people = db.session.scalars(
        select(UserModel)
        .where(
            UserModel.active.is_(True),
            UserModel.id.in_(
                select(UserRoleModel.user_id).where(UserRoleModel.role.in_(sorted(roles)))
            ),
        )
        .order_by(UserModel.display_name, UserModel.id)
    )
    return list(people)


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
