"""Which pathway a patient starts on, and a patient on more than one pathway at once.

A patient can be on several pathways at the same time (the secondary breast cancer pathway
and a clinical trial's follow-up, say), each its own instance with its own tasks, episodes
and cases, but never twice on the same one while care on it goes on: an active instance
(running or paused, care not ended) blocks a second on that pathway.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import (
    InstanceStatus,
    PathwayInstanceModel,
    PathwayStatus,
    PathwayVersionModel,
    PatientModel,
)
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import ConflictError, InvalidInputError, NotFoundError
from mdt.services.instances import begin_pathway
from mdt.services.policy import may_start_pathways, require
from mdt.services.settings import setting


@dataclass(frozen=True)
class PathwayChoice:
    key: str
    title: str


def startable_pathways() -> list[PathwayChoice]:
    """The published pathways a patient can be started on, the configured default first,
    then by title."""
    rows = db.session.execute(
        select(PathwayVersionModel.key, PathwayVersionModel.title, PathwayVersionModel.version)
        .where(PathwayVersionModel.status == PathwayStatus.PUBLISHED)
        .order_by(PathwayVersionModel.key, PathwayVersionModel.version.desc())
    ).all()
    latest: dict[str, str] = {}
    for key, title, _version in rows:
        latest.setdefault(key, title)  # one published version per pathway; the newest wins
    preferred = str(setting("MDT_DEFAULT_PATHWAY"))
    choices = [PathwayChoice(key, title) for key, title in latest.items()]
    return sorted(choices, key=lambda c: (c.key != preferred, c.title.lower(), c.key))


def default_pathway_key(choices: list[PathwayChoice] | None = None) -> str | None:
    """The pathway a registration starts when none is chosen: the configured default when it
    is published, otherwise the only published one (None: none, or several and no default)."""
    choices = startable_pathways() if choices is None else choices
    preferred = str(setting("MDT_DEFAULT_PATHWAY"))
    if any(c.key == preferred for c in choices):
        return preferred
    return choices[0].key if len(choices) == 1 else None


def pathway_key_problem(key: str | None, choices: list[PathwayChoice]) -> str | None:
    """Why ``key`` cannot be started (None: it can)."""
    if not key:
        return "Select the pathway to start"
    if not any(c.key == key for c in choices):
        names = ", ".join(c.key for c in choices) or "none is published"
        return f"There is no published pathway '{key[:80]}' to start (published: {names})"
    return None


def active_instances(patient_id: int) -> list[PathwayInstanceModel]:
    """The patient's pathways on which care goes on (running or paused), newest first."""
    return list(
        db.session.scalars(
            select(PathwayInstanceModel)
            .where(
                PathwayInstanceModel.patient_id == patient_id,
                PathwayInstanceModel.status.in_((InstanceStatus.RUNNING, InstanceStatus.ERROR)),
                PathwayInstanceModel.close_reason.is_(None),
            )
            .order_by(PathwayInstanceModel.started_at.desc(), PathwayInstanceModel.id.desc())
        )
    )


def other_pathways(patient_id: int) -> list[PathwayChoice]:
    """The published pathways the patient is not already active on."""
    active = {i.pathway_version.key for i in active_instances(patient_id)}
    return [c for c in startable_pathways() if c.key not in active]


def _lock_patient(patient_id: int) -> None:
    """One start at a time per patient, so two coordinators cannot both pass the duplicate
    check: the patient's row FOR UPDATE on PostgreSQL; on SQLite (one writer at a time) this
    transaction becomes the writer now."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        db.session.execute(
            select(PatientModel.id).where(PatientModel.id == patient_id).with_for_update()
        )
        return
    driver = connection.connection.dbapi_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def start_another_pathway(actor: Actor, patient_id: int, key: str) -> PathwayInstanceModel:
    """Use case: start the patient on one more published pathway, beside those they are on.
    Refused when they are already active on it (ConflictError); audited."""
    require(may_start_pathways(actor), "Only coordinators start a patient on another pathway.")
    problem = pathway_key_problem(key, startable_pathways())
    if problem:
        raise InvalidInputError({"pathway_key": problem})
    _lock_patient(patient_id)
    patient = db.session.get(PatientModel, patient_id)
    if patient is None:
        raise NotFoundError("No such patient")
    for instance in active_instances(patient_id):
        if instance.pathway_version.key == key:
            raise ConflictError(
                f"{patient.display_name} is already on the {instance.pathway_version.title} "
                f"pathway (started {instance.started_at:%d %B %Y}): a patient is on a pathway "
                "once at a time."
            )
    instance = begin_pathway(actor, patient_id, key)
    record_event(
        actor,
        "pathway.added",
        patient_id=patient_id,
        object_type="pathway_instance",
        object_id=instance.id,
        detail={"pathway": key},
    )
    db.session.commit()
    return instance
