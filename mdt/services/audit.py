"""Audit rows are added inside the caller's transaction, so they commit or roll back with it."""

from __future__ import annotations

from typing import Any

from mdt.extensions import db
from mdt.models import AuditEventModel
from mdt.services.actor import Actor


def record_event(
    actor: Actor,
    action: str,
    *,
    patient_id: int | None = None,
    object_type: str | None = None,
    object_id: object = None,
    detail: dict[str, Any] | None = None,
) -> None:
    db.session.add(
        AuditEventModel(
            actor_id=actor.user_id,
            actor_name=actor.username,
            actor_roles=",".join(sorted(actor.roles)),
            action=action,
            patient_id=patient_id,
            object_type=object_type,
            object_id=str(object_id) if object_id is not None else None,
            detail=detail,
            ip_address=actor.ip_address,
        )
    )


def record_task_event(
    actor: Actor, action: str, task: Any, detail: dict[str, Any] | None = None
) -> None:
    """An audit row about a human task (claimed, viewed, completed...)."""
    record_event(
        actor,
        action,
        patient_id=task.patient_id,
        object_type="human_task",
        object_id=task.id,
        detail=detail,
    )
