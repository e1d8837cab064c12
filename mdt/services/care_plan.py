"""The patient's own care plan: plain English, to give to the patient, as a page and a PDF.

Its sections are the ones each of the patient's pathways lists in its profile (headings,
wording, which fields), after the key worker and the out-of-hours contact; it changes
whenever one of those tasks is completed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import HumanTaskModel, PathwayInstanceModel, PatientModel
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import NotFoundError, PermissionDeniedError
from mdt.services.form_labels import answer_label
from mdt.services.pathways import form_schema
from mdt.services.patients import RECORD_ROLES
from mdt.services.profiles import CarePlanSection, Profile, Referrals, profile_for
from mdt.services.record_views import completed_tasks
from mdt.services.settings import setting


@dataclass(frozen=True)
class PlanSection:
    heading: str
    text: str | None = None  # kept as written (line breaks shown)
    lines: list[str] = field(default_factory=list)  # a list, e.g. support referred to


@dataclass(frozen=True)
class PatientCarePlan:
    patient: PatientModel
    key_worker: str | None
    key_worker_phone: str | None
    out_of_hours: str
    sections: list[PlanSection]
    updated_at: datetime | None
    agreed: bool


def _latest(tasks: list[HumanTaskModel], field: str) -> HumanTaskModel | None:
    return next((t for t in tasks if (t.data or {}).get(field) not in (None, "", [])), None)


def _answer(task: HumanTaskModel | None, field: str) -> str | None:
    return str((task.data or {})[field]) if task is not None else None


def _support(tasks: list[HumanTaskModel], referrals: Referrals) -> list[str]:
    lines = []
    for task in tasks:
        data = task.data or {}
        if (
            task.form not in referrals.forms
            or data.get(referrals.when_field) != referrals.when_equals
        ):
            continue
        schema = form_schema(task.instance.pathway_version, task.form) or {}
        answers = data.get(referrals.answer_field)
        if answers:
            lines.append(answer_label(schema, referrals.answer_field, answers))
        else:
            lines.append(referrals.otherwise.get(task.form or "", task.name))
    return lines


def _section(tasks: list[HumanTaskModel], section: CarePlanSection) -> PlanSection | None:
    if section.referrals is not None:
        lines = _support(tasks, section.referrals)
        return PlanSection(section.heading, lines=lines) if lines else None
    answer = _answer(_latest(tasks, section.field or ""), section.field or "")
    if answer is not None and section.wording is not None:
        answer = section.wording.get(answer)
    return PlanSection(section.heading, text=answer) if answer else None


def _profiles(patient_id: int) -> list[Profile]:
    """The profiles of the patient's pathways, newest instance first (one per pathway)."""
    instances = db.session.scalars(
        select(PathwayInstanceModel)
        .where(PathwayInstanceModel.patient_id == patient_id)
        .order_by(PathwayInstanceModel.id.desc())
    )
    found: dict[str, Profile] = {}
    for instance in instances:
        found.setdefault(instance.pathway_version.key, profile_for(instance.pathway_version))
    return list(found.values())


def _out_of_hours(tasks: list[HumanTaskModel], profiles: list[Profile]) -> str:
    for profile in profiles:
        name = profile.care_plan.out_of_hours_field
        answer = _answer(_latest(tasks, name), name) if name else None
        if answer:
            return answer
    return str(setting("MDT_OUT_OF_HOURS_ADVICE"))


def _agreed(tasks: list[HumanTaskModel], profiles: list[Profile]) -> bool:
    """Agreed once a pathway's agreed_field is answered; a plan no pathway asks to agree is
    never shown as awaiting agreement."""
    asked = [p.care_plan.agreed_field for p in profiles if p.care_plan.agreed_field]
    return not asked or any(_latest(tasks, name) is not None for name in asked)


def patient_care_plan(
    actor: Actor, patient_id: int, action: str = "careplan.viewed"
) -> PatientCarePlan:
    if not actor.has_role(*RECORD_ROLES):
        raise PermissionDeniedError("Your role does not give access to patient records.")
    patient = db.session.get(PatientModel, patient_id)
    if patient is None:
        raise NotFoundError("No such patient")
    tasks = completed_tasks(patient_id)
    profiles = _profiles(patient_id)
    sections = [
        _section(tasks, section) for profile in profiles for section in profile.care_plan.sections
    ]
    record_event(actor, action, patient_id=patient_id, object_type="patient", object_id=patient_id)
    db.session.commit()
    return PatientCarePlan(
        patient=patient,
        key_worker=patient.key_worker_name,
        key_worker_phone=patient.key_worker_phone,
        out_of_hours=_out_of_hours(tasks, profiles),
        sections=[s for s in sections if s is not None],
        updated_at=tasks[0].completed_at if tasks else None,
        agreed=_agreed(tasks, profiles),
    )
