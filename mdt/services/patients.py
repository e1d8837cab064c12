"""Patients: register, find, and view a record (every view is audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, or_, select

from mdt import clock
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    PatientModel,
    TaskStatus,
)
from mdt.models.roles import Role
from mdt.services import nhs_number
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.episodes import episodes_of
from mdt.services.errors import (
    DuplicatePatientError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from mdt.services.instances import begin_pathway
from mdt.services.patient_contact import ContactDetails, apply_contact, checked
from mdt.services.patient_standards import EpisodeCard, patient_scorecard
from mdt.services.policy import RECORD_ROLES
from mdt.services.record_views import (
    SummaryRow,
    TimelineEntry,
    clinical_summary,
    timeline,
)
from mdt.services.settings import setting


@dataclass(frozen=True)
class PatientRecord:
    patient: PatientModel
    instances: list[PathwayInstanceModel]
    open_tasks: list[HumanTaskModel]
    history: list[HumanTaskModel]
    summary: list[SummaryRow]
    timeline: list[TimelineEntry]
    scorecard: list[EpisodeCard]


def register_patient(
    actor: Actor,
    nhs: str,
    given_name: str,
    family_name: str,
    date_of_birth: date | None,
    gp_practice: str | None,
    start: bool = True,
    contact: ContactDetails | None = None,
) -> PatientModel:
    """Register a patient and start their pathway, in one transaction. ``contact``: their
    address, GP practice code and address, and whether they want copies of letters."""
    if not actor.has_role(Role.COORDINATOR, Role.CNS):
        raise PermissionDeniedError("Only coordinators and nurses register patients.")
    contact, contact_errors = checked(contact or ContactDetails())
    errors = {}
    problem = nhs_number.problem_with(nhs, bool(setting("MDT_ALLOW_TEST_NHS_NUMBERS")))
    if problem:
        errors["nhs_number"] = problem
    if not given_name.strip():
        errors["given_name"] = "Enter the patient's first name"
    if not family_name.strip():
        errors["family_name"] = "Enter the patient's last name"
    if date_of_birth is None:
        errors["date_of_birth"] = "Enter the patient's date of birth"
    elif date_of_birth > clock.today():
        errors["date_of_birth"] = "Date of birth must be in the past"
    errors.update(contact_errors)  # in the order the form asks
    if errors:
        raise InvalidInputError(errors)
    number = nhs_number.normalise(nhs)
    existing = db.session.scalar(select(PatientModel).where(PatientModel.nhs_number == number))
    if existing is not None:
        raise DuplicatePatientError(
            f"A patient with NHS number {existing.nhs_number_spaced} is already registered.",
            existing.id,
        )
    patient = PatientModel(
        nhs_number=number,
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        date_of_birth=date_of_birth,
        gp_practice=(gp_practice or "").strip() or None,
        created_by_id=actor.user_id,
    )
    apply_contact(patient, contact)
    db.session.add(patient)
    db.session.flush()
    record_event(
        actor,
        "patient.registered",
        patient_id=patient.id,
        object_type="patient",
        object_id=patient.id,
    )
    if start:
        begin_pathway(actor, patient.id)
    db.session.commit()
    return patient


def pathway_problem(patient_id: int) -> str | None:
    """Why the patient's latest pathway is paused (it could not start or could not go on),
    or None when it is not."""
    latest = db.session.scalars(
        select(PathwayInstanceModel)
        .where(PathwayInstanceModel.patient_id == patient_id)
        .order_by(PathwayInstanceModel.started_at.desc(), PathwayInstanceModel.id.desc())
        .limit(1)
    ).first()
    if latest is None or latest.status != InstanceStatus.ERROR:
        return None
    return latest.error_message or "Unknown error"


def view_patient(actor: Actor, patient_id: int) -> PatientRecord:
    if not actor.has_role(*RECORD_ROLES):
        raise PermissionDeniedError("Your role does not give access to patient records.")
    patient = db.session.get(PatientModel, patient_id)
    if patient is None:
        raise NotFoundError("No such patient")
    instances = list(
        db.session.scalars(
            select(PathwayInstanceModel)
            .where(PathwayInstanceModel.patient_id == patient_id)
            .order_by(PathwayInstanceModel.started_at.desc())
        )
    )
    tasks = list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(HumanTaskModel.patient_id == patient_id)
            .order_by(HumanTaskModel.created_at.desc(), HumanTaskModel.id.desc())
        )
    )
    record_event(
        actor, "patient.viewed", patient_id=patient_id, object_type="patient", object_id=patient_id
    )
    db.session.commit()
    history = [t for t in tasks if t.status != TaskStatus.READY]
    return PatientRecord(
        patient=patient,
        instances=instances,
        open_tasks=[t for t in tasks if t.status == TaskStatus.READY],
        history=history,
        summary=clinical_summary(
            (t for t in history if t.status == TaskStatus.COMPLETED),
            episodes_of([i.id for i in instances]),
        ),
        timeline=timeline(patient_id, history),
        scorecard=patient_scorecard(patient_id),
    )


@dataclass(frozen=True)
class PathwayView:
    """A patient's current (or last) pathway episode and its tasks."""

    instance: PathwayInstanceModel
    open_tasks: list[HumanTaskModel]
    completed_tasks: list[HumanTaskModel]


def read_patient(actor: Actor, patient_id: int, part: str = "details") -> PatientModel:
    """One patient, for a role that may see records; every read is audited with what part
    of the record was read (the API's details, pathway or FHIR export)."""
    if not actor.has_role(*RECORD_ROLES):
        raise PermissionDeniedError("Your role does not give access to patient records.")
    patient = db.session.get(PatientModel, patient_id)
    if patient is None:
        raise NotFoundError("No such patient")
    record_event(
        actor,
        "patient.viewed",
        patient_id=patient_id,
        object_type="patient",
        object_id=patient_id,
        detail={"part": part},
    )
    db.session.commit()
    return patient


def patient_pathway(actor: Actor, patient_id: int) -> PathwayView:
    read_patient(actor, patient_id, "pathway")
    instance = db.session.scalar(
        select(PathwayInstanceModel)
        .where(PathwayInstanceModel.patient_id == patient_id)
        .order_by(PathwayInstanceModel.started_at.desc(), PathwayInstanceModel.id.desc())
        .limit(1)
    )
    if instance is None:
        raise NotFoundError("This patient has no pathway.")
    tasks = list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(HumanTaskModel.instance_id == instance.id)
            .order_by(HumanTaskModel.created_at, HumanTaskModel.id)
        )
    )
    return PathwayView(
        instance,
        [t for t in tasks if t.status == TaskStatus.READY],
        [t for t in tasks if t.status == TaskStatus.COMPLETED],
    )


def patient_matches(text: str) -> ColumnElement[bool]:
    """What staff type to find a patient: an NHS number (spaces allowed) matches exactly;
    anything else matches part of either name."""
    number = nhs_number.normalise(text)
    if number.isdigit():
        return PatientModel.nhs_number == number
    return or_(
        PatientModel.family_name.ilike(f"%{text}%"), PatientModel.given_name.ilike(f"%{text}%")
    )


def find_patients(actor: Actor, query: str, limit: int = 50) -> list[PatientModel]:
    if not actor.has_role(*RECORD_ROLES):
        raise PermissionDeniedError("Your role does not give access to patient records.")
    query = query.strip()
    if not query:
        return []
    patients = list(
        db.session.scalars(
            select(PatientModel)
            .where(patient_matches(query))
            .order_by(PatientModel.family_name)
            .limit(limit)
        )
    )
    record_event(actor, "patient.searched", detail={"query": query, "results": len(patients)})
    db.session.commit()
    return patients
