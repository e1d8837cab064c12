"""Key workers and caseloads: who a patient's key worker (a CNS account) is, each CNS's
caseload with its open work, and moving a caseload from one nurse to another (cover and
handover).

A caseload is read in two indexed queries (patients by ``key_worker_id``, then their open
tasks by patient); no workflow is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload

from mdt.extensions import db
from mdt.models import HumanTaskModel, PatientModel, TaskStatus, UserModel, UserRoleModel
from mdt.models.instance import InstanceStatus, PathwayInstanceModel
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event, record_task_event
from mdt.services.errors import InvalidInputError, NotFoundError
from mdt.services.policy import (
    CASELOAD_READERS,
    may_move_caseloads,
    may_set_key_worker,
    require,
)

PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,28}$")


@dataclass(frozen=True)
class CaseloadEntry:
    patient: PatientModel
    open_tasks: list[HumanTaskModel]

    @property
    def next_due(self) -> datetime | None:
        return min((t.due_at for t in self.open_tasks if t.due_at), default=None)


def key_workers() -> list[UserModel]:
    """Active accounts holding the CNS role: who can be a key worker."""
    return list(
        db.session.scalars(
            select(UserModel)
            .join(UserRoleModel)
            .where(UserRoleModel.role == Role.CNS, UserModel.active.is_(True))
            .order_by(UserModel.display_name, UserModel.id)
        )
    )


def key_worker_by_name(name: str, role: str) -> UserModel | None:
    """The active account with this display name holding ``role`` (the key worker's role in
    the pathway's profile: the account a key worker form names), or None when no such
    account exists here."""
    return db.session.scalar(
        select(UserModel)
        .join(UserRoleModel)
        .where(
            UserModel.display_name == name.strip(),
            UserModel.active.is_(True),
            UserRoleModel.role == role,
        )
        .order_by(UserModel.id)
        .limit(1)
    )


def _in_care() -> object:
    return exists().where(
        PathwayInstanceModel.patient_id == PatientModel.id,
        PathwayInstanceModel.close_reason.is_(None),
        PathwayInstanceModel.status.in_([InstanceStatus.RUNNING, InstanceStatus.ERROR]),
    )


def caseload(actor: Actor, nurse_id: int) -> list[CaseloadEntry]:
    """The patients whose key worker is this nurse and whose care goes on (not died, not
    discharged or transferred, not merged into another record), each with its open tasks.
    A CNS reads their own; coordinators and managers read anyone's."""
    require(
        actor.user_id == nurse_id or actor.has_role(*(CASELOAD_READERS - {Role.CNS})),
        "You can see your own caseload only.",
    )
    # Audited (and committed) first, so the rows read after it stay loaded for the page.
    ids = list(
        db.session.scalars(
            select(PatientModel.id).where(
                PatientModel.key_worker_id == nurse_id,
                PatientModel.date_of_death.is_(None),
                PatientModel.merged_into_id.is_(None),
                _in_care(),  # type: ignore[arg-type]
            )
        )
    )
    record_event(
        actor,
        "caseload.viewed",
        object_type="user_account",
        object_id=nurse_id,
        detail={"patients": ids},
    )
    db.session.commit()
    if not ids:
        return []
    patients = list(
        db.session.scalars(
            select(PatientModel)
            .where(PatientModel.id.in_(ids))
            .order_by(PatientModel.family_name, PatientModel.given_name, PatientModel.id)
        )
    )
    tasks: dict[int, list[HumanTaskModel]] = {patient.id: [] for patient in patients}
    for task in db.session.scalars(
        select(HumanTaskModel)
        .options(joinedload(HumanTaskModel.assigned_to))
        .where(HumanTaskModel.patient_id.in_(ids), HumanTaskModel.status == TaskStatus.READY)
        .order_by(HumanTaskModel.due_at.asc().nulls_last(), HumanTaskModel.id)
    ):
        tasks[task.patient_id].append(task)
    entries = [CaseloadEntry(patient, tasks[patient.id]) for patient in patients]
    return entries


def _nurse(user_id: int | None, field: str) -> UserModel:
    user = db.session.get(UserModel, user_id) if user_id else None
    if user is None or not user.active or Role.CNS not in user.roles:
        raise InvalidInputError(
            {field: "Select a clinical nurse specialist with an active account"}
        )
    return user


def _clean_phone(phone: str | None) -> str | None:
    text = " ".join((phone or "").split())
    if not text:
        return None
    if not PHONE.match(text):
        raise InvalidInputError(
            {"phone": "Enter the direct line as a UK phone number, like 0113 496 0123"}
        )
    return text


def assign_key_worker(
    actor: Actor, patient: PatientModel, nurse: UserModel, phone: str | None
) -> None:
    """Inner operation: make ``nurse`` the patient's key worker (with their direct line, if
    given) and give them the open tasks the previous key worker held. Flushes."""
    previous = patient.key_worker_id
    patient.key_worker_id = nurse.id
    patient.key_worker_name = nurse.display_name[:200]
    patient.key_worker_phone = phone
    if previous and previous != nurse.id:
        for task in db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.patient_id == patient.id,
                HumanTaskModel.status == TaskStatus.READY,
                HumanTaskModel.assigned_to_id == previous,
            )
        ):
            if task.role in nurse.roles:
                task.assigned_to_id = nurse.id
                record_task_event(actor, "task.reassigned", task, {"to": nurse.username})
    record_event(
        actor,
        "patient.key_worker_set",
        patient_id=patient.id,
        object_type="patient",
        object_id=patient.id,
        detail={"from": previous, "to": nurse.id, "phone": phone},
    )
    db.session.flush()


def set_key_worker(
    actor: Actor, patient_id: int, nurse_id: int | None, phone: str | None
) -> PatientModel:
    """Name a patient's key worker: a CNS account, with an optional direct line."""
    require(may_set_key_worker(actor), "Only coordinators, nurses and managers name key workers.")
    patient = db.session.get(PatientModel, patient_id)
    if patient is None:
        raise NotFoundError("No such patient")
    errors: dict[str, str] = {}
    try:
        nurse = _nurse(nurse_id, "key_worker_id")
    except InvalidInputError as error:
        errors |= error.errors
    try:
        line = _clean_phone(phone)
    except InvalidInputError as error:
        errors |= error.errors
    if errors:
        raise InvalidInputError(errors)
    assign_key_worker(actor, patient, nurse, line)
    db.session.commit()
    return patient


def move_caseload(
    actor: Actor, from_id: int, to_id: int, patient_ids: Sequence[int] | None = None
) -> list[PatientModel]:
    """Cover and handover: move a nurse's caseload (all of it, or the chosen patients) to
    another nurse, with the open tasks the first nurse held. One transaction, audited."""
    require(may_move_caseloads(actor), "Only coordinators and managers move caseloads.")
    source = db.session.get(UserModel, from_id)
    if source is None:
        raise NotFoundError("No such nurse")
    target = _nurse(to_id, "to_id")
    if target.id == source.id:
        raise InvalidInputError({"to_id": "Choose a different nurse to move the caseload to"})
    query = select(PatientModel).where(
        PatientModel.key_worker_id == source.id,
        PatientModel.date_of_death.is_(None),
        PatientModel.merged_into_id.is_(None),
        _in_care(),  # type: ignore[arg-type]
    )
    if patient_ids is not None:
        if not patient_ids:
            raise InvalidInputError({"patient_ids": "Select the patients to move"})
        query = query.where(PatientModel.id.in_(sorted(set(patient_ids))))
    patients = list(db.session.scalars(query.order_by(PatientModel.id).with_for_update()))
    if patient_ids is not None and len(patients) != len(set(patient_ids)):
        db.session.rollback()
        raise InvalidInputError(
            {"patient_ids": f"Some of the selected patients are no longer {source.display_name}'s. "
             "Nothing was moved; select again."}
        )  # fmt: skip
    if not patients:
        raise InvalidInputError({"patient_ids": f"{source.display_name} has no patients to move"})
    for patient in patients:
        # The direct line was the previous nurse's: it does not follow the patient.
        assign_key_worker(actor, patient, target, None)
    record_event(
        actor,
        "caseload.moved",
        object_type="user_account",
        object_id=source.id,
        detail={"to": target.id, "patients": [patient.id for patient in patients]},
    )
    db.session.commit()
    return patients
