"""What a caller can do next for a patient, answered with the completion that made it ready.

A client walking a pathway through the API completes a task and is told, in the same answer,
which of the patient's tasks are now waiting for them: no second call to find them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import false, or_, select

from mdt.extensions import db
from mdt.models import HumanTaskModel, TaskStatus
from mdt.services.actor import Actor
from mdt.services.instances import advance_task, commit_or_conflict
from mdt.services.outside_meetings import OutsideMeeting


def complete_and_find_next(
    actor: Actor,
    task_id: int,
    data: Mapping[str, Any],
    outside_meeting: OutsideMeeting | None = None,
) -> tuple[HumanTaskModel, list[HumanTaskModel]]:
    """Use case: complete a task (``instances.advance_task``) and find the patient's tasks
    now waiting for the actor (``ready_for``), read before the one commit, so the whole
    request uses one connection and one transaction."""
    task = advance_task(actor, task_id, data, outside_meeting)
    waiting = ready_for(actor, task.patient_id)
    commit_or_conflict()
    return task, waiting


def ready_for(actor: Actor, patient_id: int) -> list[HumanTaskModel]:
    """The patient's ready tasks (on any of their pathways) that wait for the actor: the
    worklist's "waiting for my roles" rule for one patient, so one of the actor's roles
    (only the task's own role may complete it) and given to no one else. Oldest first."""
    if not actor.roles:
        return []
    mine = HumanTaskModel.assigned_to_id == actor.user_id if actor.user_id else false()
    return list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(
                HumanTaskModel.patient_id == patient_id,
                HumanTaskModel.status == TaskStatus.READY,
                HumanTaskModel.role.in_(sorted(actor.roles)),
                or_(HumanTaskModel.assigned_to_id.is_(None), mine),
            )
            .order_by(HumanTaskModel.created_at, HumanTaskModel.id)
        )
    )
