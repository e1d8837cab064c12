"""The patient's own care plan: plain English, to give to the patient, as a page and a PDF.

Built from what the pathway recorded (care plan, MDT outcome, referrals, advance care plan);
it changes whenever one of those tasks is completed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mdt.extensions import db
from mdt.models import HumanTaskModel, PatientModel
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import NotFoundError, PermissionDeniedError
from mdt.services.form_labels import answer_label
from mdt.services.pathways import form_schema
from mdt.services.patients import RECORD_ROLES
from mdt.services.record_views import completed_tasks
from mdt.services.settings import setting

AIMS = {
    "disease_control": "To control the cancer for as long as possible and help you live well.",
    "symptom_control": "To ease symptoms and help you feel as well as possible.",
    "best_supportive_care": "To keep you comfortable and support you and those close to you.",
}
REFERRAL_FORMS = (
    "psychological-support.schema.json",
    "financial-advice.schema.json",
    "family-support.schema.json",
    "palliative-referral.schema.json",
)


@dataclass(frozen=True)
class PatientCarePlan:
    patient: PatientModel
    key_worker: str | None
    key_worker_phone: str | None
    out_of_hours: str
    aim: str | None
    next_steps: str | None
    what_matters: str | None
    support: list[str]
    updated_at: datetime | None
    agreed: bool


def _latest(tasks: list[HumanTaskModel], field: str) -> HumanTaskModel | None:
    return next((t for t in tasks if (t.data or {}).get(field) not in (None, "", [])), None)


def _answer(task: HumanTaskModel | None, field: str) -> str | None:
    return str((task.data or {})[field]) if task is not None else None


def _support(tasks: list[HumanTaskModel]) -> list[str]:
    lines = []
    for task in tasks:
        if task.form not in REFERRAL_FORMS or (task.data or {}).get("outcome") != "accepted":
            continue
        schema = form_schema(task.instance.pathway_version, task.form) or {}
        services = (task.data or {}).get("services")
        if services:
            lines.append(answer_label(schema, "services", services))
        elif task.form == "palliative-referral.schema.json":
            lines.append("The specialist palliative care team")
        else:
            lines.append(task.name)
    return lines


def patient_care_plan(
    actor: Actor, patient_id: int, action: str = "careplan.viewed"
) -> PatientCarePlan:
    if not actor.has_role(*RECORD_ROLES):
        raise PermissionDeniedError("Your role does not give access to patient records.")
    patient = db.session.get(PatientModel, patient_id)
    if patient is None:
        raise NotFoundError("No such patient")
    tasks = completed_tasks(patient_id)
    intent = _latest(tasks, "treatment_intent")
    steps = _latest(tasks, "next_steps")
    matters = _latest(tasks, "what_matters")
    out_of_hours = _latest(tasks, "out_of_hours_details")
    record_event(actor, action, patient_id=patient_id, object_type="patient", object_id=patient_id)
    db.session.commit()
    return PatientCarePlan(
        patient=patient,
        key_worker=patient.key_worker_name,
        key_worker_phone=patient.key_worker_phone,
        out_of_hours=_answer(out_of_hours, "out_of_hours_details")
        or str(setting("MDT_OUT_OF_HOURS_ADVICE")),
        aim=AIMS.get(_answer(intent, "treatment_intent") or ""),
        next_steps=_answer(steps, "next_steps"),
        what_matters=_answer(matters, "what_matters"),
        support=_support(tasks),
        updated_at=tasks[0].completed_at if tasks else None,
        agreed=steps is not None,
    )
