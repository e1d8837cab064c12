"""Events in a patient's life that change the pathway: progression, treatment change,
death, discharge and transfer. The first two are messages to the running pathway; the
others close it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from mdt import clock
from mdt.extensions import db
from mdt.models import InstanceStatus, PathwayInstanceModel
from mdt.models.roles import CLINICAL_ROLES, Role
from mdt.services.actor import Actor
from mdt.services.errors import ConflictError, InvalidInputError, PermissionDeniedError
from mdt.services.instances import close_pathway, send_event


@dataclass(frozen=True)
class EventKind:
    label: str
    hint: str
    closes: bool


EVENT_KINDS = {
    "progression": EventKind(
        "Disease progression", "Starts a new needs assessment and an MDT re-review.", False
    ),
    "treatment_change": EventKind(
        "Treatment change", "Starts a new needs assessment and an MDT re-review.", False
    ),
    "death": EventKind("Death", "Closes the pathway and cancels open tasks.", True),
    "discharge": EventKind("Discharge", "Closes the pathway and cancels open tasks.", True),
    "transfer": EventKind("Transfer of care", "Closes the pathway and cancels open tasks.", True),
}
EVENT_ROLES = frozenset({*CLINICAL_ROLES, Role.COORDINATOR})


def running_instance(patient_id: int) -> PathwayInstanceModel | None:
    return db.session.scalar(
        select(PathwayInstanceModel)
        .where(
            PathwayInstanceModel.patient_id == patient_id,
            PathwayInstanceModel.status == InstanceStatus.RUNNING,
        )
        .order_by(PathwayInstanceModel.started_at.desc())
        .limit(1)
    )


def _check(kind: str, details: dict[str, Any]) -> dict[str, str]:
    errors = {}
    if kind not in EVENT_KINDS:
        errors["kind"] = "Select what happened"
        return errors
    event_date = details.get("date")
    if not event_date:
        errors["date"] = "Enter the date it happened"
    elif date.fromisoformat(event_date) > clock.today():
        errors["date"] = "The date must be today or in the past"
    if kind == "treatment_change" and not details.get("line"):
        errors["line"] = "Enter the new line of treatment"
    if kind == "transfer" and not details.get("destination"):
        errors["destination"] = "Enter where care is transferred to"
    return errors


def record_patient_event(actor: Actor, patient_id: int, kind: str, details: dict[str, Any]) -> None:
    """Record an event and apply it to the patient's running pathway (one transaction)."""
    if not actor.has_role(*EVENT_ROLES):
        raise PermissionDeniedError("Your role cannot record events on a pathway.")
    errors = _check(kind, details)
    if errors:
        raise InvalidInputError(errors)
    instance = running_instance(patient_id)
    if instance is None:
        raise ConflictError("This patient has no running pathway to record the event on.")
    if EVENT_KINDS[kind].closes:
        close_pathway(actor, instance.id, kind, details)
    else:
        send_event(actor, instance.id, kind, details)
