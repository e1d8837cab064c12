"""A patient's care plan as an HL7 FHIR R4 Bundle (collection): Patient, a Condition per
coded condition the pathway's profile names (e.g. each metastatic site), CarePlan for the
pathway with a Task per human task, CareTeam for the key worker, and a CarePlan per MDT
outcome (at a meeting, or marked as decided outside one).

Built from the tables (never by loading a workflow) and checked against the FHIR models of
the `fhir.resources` package (its R4B models: FHIR 4.3, the maintained release of R4, whose
resources used here are unchanged from 4.0.1) before it leaves, so a malformed bundle is our
error, not the receiving system's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from mdt import clock
from mdt.extensions import db
from mdt.models import (
    EpisodeModel,
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    PatientModel,
    TaskStatus,
)
from mdt.services.actor import Actor
from mdt.services.case_status import ACHIEVED, COUNTED, Status
from mdt.services.episodes import episodes_of
from mdt.services.outside_meetings import MdtOutcome, patient_outcomes
from mdt.services.patient_standards import ScorecardRow, patient_cases
from mdt.services.patients import read_patient
from mdt.services.profiles import Conditions, Profile, profile_for

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
# Code systems a profile's conditions name (`conditions.system`), as other systems know them.
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
MDT_CATEGORY = ("312384001", "Multidisciplinary assessment")
# Where an MDT recommendation was decided: "meeting" or "outside-meeting" (no meeting, no
# attendance, not counted as discussed by the MDT).
MDT_DECISION_SETTING = "urn:mdt-pathways:mdt-decision-setting"
TASK_STATUS: dict[str, str] = {
    TaskStatus.READY: "ready",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.CANCELLED: "cancelled",
}
CARE_PLAN_STATUS: dict[str, str] = {
    InstanceStatus.RUNNING: "active",
    InstanceStatus.COMPLETED: "completed",
    InstanceStatus.CLOSED: "revoked",  # ended early: death, discharge or transfer
    InstanceStatus.ERROR: "on-hold",
}
_NAMESPACE = uuid.UUID("6f0c7f55-5a1e-4d1c-9a57-0c1f1d5e2b10")


def _urn(kind: str, key: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{key}')}"


def _instant(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def patient_bundle(actor: Actor, patient_id: int) -> dict[str, Any]:
    """The bundle for one patient (audited as a read of the record)."""
    patient = read_patient(actor, patient_id, "fhir")
    instances = list(
        db.session.scalars(
            select(PathwayInstanceModel)
            .where(PathwayInstanceModel.patient_id == patient_id)
            .order_by(PathwayInstanceModel.started_at, PathwayInstanceModel.id)
        )
    )
    tasks = list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(HumanTaskModel.patient_id == patient_id)
            .order_by(HumanTaskModel.created_at, HumanTaskModel.id)
        )
    )
    resources = [_patient(patient)]
    profiles = _profiles(instances)
    conditions = _conditions(patient, tasks, instances, profiles)
    resources += conditions
    team = _care_team(patient, profiles)
    if team:
        resources.append(team)
    for instance in instances:
        own = [t for t in tasks if t.instance_id == instance.id]
        resources.append(_care_plan(patient, instance, own, conditions, team))
        resources += [_task(patient, instance, task) for task in own]
    resources += [_mdt_recommendation(patient, outcome) for outcome in patient_outcomes(patient_id)]
    resources += [_measure_report(patient, case) for case in patient_cases(patient_id)]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": clock.now().isoformat(),
        "entry": [{"fullUrl": r.pop("_urn"), "resource": r} for r in resources],
    }
    Bundle.model_validate(bundle)  # raises if we ever build something that is not FHIR
    return bundle


def _patient(patient: PatientModel) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "_urn": _urn("Patient", patient.id),
        "resourceType": "Patient",
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": patient.nhs_number}],
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "birthDate": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        # Our four values are FHIR's administrative genders, word for word.
        "gender": patient.sex,
        "deceasedDateTime": patient.date_of_death.isoformat() if patient.date_of_death else None,
    }
    if patient.mrn:
        resource["identifier"].append(
            {"type": {"text": "Hospital number (MRN)"}, "value": patient.mrn}
        )
    if patient.address_lines or patient.postcode:
        address = {"use": "home", "line": patient.address_lines, "postalCode": patient.postcode}
        resource["address"] = [{k: v for k, v in address.items() if v}]
    if patient.gp_practice or patient.gp_practice_code:
        practice: dict[str, Any] = {"type": "Organization"}
        if patient.gp_practice_code:
            practice["identifier"] = {"system": ODS_SYSTEM, "value": patient.gp_practice_code}
        if patient.gp_practice:
            practice["display"] = patient.gp_practice
        resource["generalPractitioner"] = [practice]
    return {k: v for k, v in resource.items() if v is not None}


def _profiles(instances: list[PathwayInstanceModel]) -> list[Profile]:
    """The profile of each of the patient's pathways (its newest instance's version)."""
    found: dict[str, Profile] = {}
    for instance in reversed(instances):
        found.setdefault(instance.pathway_version.key, profile_for(instance.pathway_version))
    return list(found.values())


def _coded(
    conditions: Conditions, tasks: list[HumanTaskModel], episodes: list[EpisodeModel]
) -> dict[str, date | None]:
    """Every code the profile's condition fields recorded on a completed form or event (of
    the prefixes it counts), with when it was first recorded."""
    found: dict[str, date | None] = {}
    records = [(t.data, t.completed_at) for t in tasks if t.status == TaskStatus.COMPLETED] + [
        (e.data, e.recorded_at) for e in episodes
    ]
    for data, when in sorted(records, key=lambda r: r[1] or datetime.min.replace(tzinfo=UTC)):
        if not isinstance(data, dict):
            continue
        for name in conditions.fields:
            for code in data.get(name) or []:
                if isinstance(code, str) and code.startswith(conditions.prefixes):
                    found.setdefault(code, when.date() if when else None)
    return found


def _conditions(
    patient: PatientModel,
    tasks: list[HumanTaskModel],
    instances: list[PathwayInstanceModel],
    profiles: list[Profile],
) -> list[dict[str, Any]]:
    index_date = next((i.index_date for i in instances if i.index_date), None)
    episodes = episodes_of([i.id for i in instances])
    conditions = []
    for profile in profiles:
        if profile.conditions is None:
            continue
        for code, recorded in sorted(_coded(profile.conditions, tasks, episodes).items()):
            conditions.append(_condition(patient, profile.conditions, code, recorded, index_date))
    return conditions


def _condition(
    patient: PatientModel,
    coded: Conditions,
    code: str,
    recorded: date | None,
    index_date: date | None,
) -> dict[str, Any]:
    known = coded.codes.get(code, coded.otherwise)
    display = known.display.replace("{code}", code)
    condition: dict[str, Any] = {
        "_urn": _urn("Condition", f"{patient.id}/{code}"),
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}],
        "code": {
            "coding": [
                {"system": coded.system, "code": code, "display": display},
                {"system": SNOMED, "code": known.snomed, "display": known.snomed_display},
            ],
            "text": display,
        },
        "subject": {"reference": _urn("Patient", patient.id)},
    }  # fmt: skip
    if index_date:
        condition["onsetDateTime"] = index_date.isoformat()
    if recorded:
        condition["recordedDate"] = recorded.isoformat()
    return condition


def _care_team(patient: PatientModel, profiles: list[Profile]) -> dict[str, Any] | None:
    if not patient.key_worker_name:
        return None
    worker = next((p.key_worker for p in profiles if p.key_worker), None)
    member: dict[str, Any] = {"display": patient.key_worker_name}
    team: dict[str, Any] = {
        "_urn": _urn("CareTeam", patient.id),
        "resourceType": "CareTeam",
        "status": "active",
        "name": "Key worker",
        "subject": {"reference": _urn("Patient", patient.id)},
        "participant": [
            {"role": [{"text": worker.title if worker else "Key worker"}], "member": member}
        ],
    }
    if patient.key_worker_phone:
        team["telecom"] = [{"system": "phone", "value": patient.key_worker_phone, "use": "work"}]
    return team


def _care_plan(
    patient: PatientModel,
    instance: PathwayInstanceModel,
    tasks: list[HumanTaskModel],
    conditions: list[dict[str, Any]],
    team: dict[str, Any] | None,
) -> dict[str, Any]:
    period = {"start": _instant(instance.started_at)}
    if instance.closed_at:
        period["end"] = _instant(instance.closed_at)
    plan: dict[str, Any] = {
        "_urn": _urn("CarePlan", instance.id),
        "resourceType": "CarePlan",
        "status": CARE_PLAN_STATUS.get(instance.status, "unknown"),
        "intent": "plan",
        "title": instance.pathway_version.title,
        "subject": {"reference": _urn("Patient", patient.id)},
        "period": period,
        "activity": [{"reference": {"reference": _urn("Task", t.id)}} for t in tasks],
    }
    if conditions:
        plan["addresses"] = [
            {"reference": _urn("Condition", _site_key(patient, c))} for c in conditions
        ]
    if team:
        plan["careTeam"] = [{"reference": _urn("CareTeam", patient.id)}]
    if instance.close_reason:
        plan["note"] = [{"text": f"Pathway closed: {instance.close_reason}"}]
    return plan


def _site_key(patient: PatientModel, condition: dict[str, Any]) -> str:
    return f"{patient.id}/{condition['code']['coding'][0]['code']}"


def _task(
    patient: PatientModel, instance: PathwayInstanceModel, task: HumanTaskModel
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "_urn": _urn("Task", task.id),
        "resourceType": "Task",
        "identifier": [{"system": "urn:mdt:human-task", "value": str(task.id)}],
        "status": TASK_STATUS.get(task.status, "ready"),
        "intent": "plan",
        "code": {"text": task.name},
        "description": task.name,
        "basedOn": [{"reference": _urn("CarePlan", instance.id)}],
        "for": {"reference": _urn("Patient", patient.id)},
        "authoredOn": _instant(task.created_at),
        "lastModified": _instant(task.completed_at or task.created_at),
        "executionPeriod": {"start": _instant(task.created_at)},
    }
    if task.completed_at:
        resource["executionPeriod"]["end"] = _instant(task.completed_at)
    if task.due_at:
        resource["restriction"] = {"period": {"end": _instant(task.due_at)}}
    if task.role:
        resource["owner"] = {"display": task.role}
    return resource


def _mdt_recommendation(patient: PatientModel, outcome: MdtOutcome) -> dict[str, Any]:
    """Every MDT outcome is its own CarePlan: confirmed at a meeting, or decided outside one
    (marked so, with why and who decided, and no meeting)."""
    task, listing = outcome.task, outcome.listing
    data = (listing.outcome if listing else None) or task.data or {}
    decided = f"{outcome.decided_on:%-d %B %Y}"
    if listing:
        setting, title, fallback = "meeting", "MDT recommendation", "Discussed at the MDT"
        note = f"Confirmed at {listing.meeting.title} on {decided}."
    else:
        setting = "outside-meeting"
        title = fallback = "MDT recommendation decided outside a meeting"
        note = f"Decided outside an MDT meeting on {decided}. Reason: {outcome.reason}"
    resource: dict[str, Any] = {
        # Keyed by the listing as before, so a meeting's recommendation keeps its reference.
        "_urn": _urn("MdtRecommendation", listing.id if listing else f"task/{task.id}"),
        "resourceType": "CarePlan",
        "extension": [{"url": MDT_DECISION_SETTING, "valueCode": setting}],
        "status": "active",
        "intent": "proposal",
        "category": [{"coding": [{"system": SNOMED, "code": MDT_CATEGORY[0], "display": MDT_CATEGORY[1]}]}],
        "title": title,
        "description": str(data.get(_outcome_field(task) or "") or fallback),
        "subject": {"reference": _urn("Patient", patient.id)},
        "created": _instant((listing.confirmed_at if listing else None) or task.completed_at),
        "supportingInfo": [{"reference": _urn("Task", task.id)}],
        "note": [{"text": note}],
    }  # fmt: skip
    if outcome.clinicians:
        resource["contributor"] = [
            {"display": f"{c['name']} ({c['discipline']})"} for c in outcome.clinicians
        ]
    return resource


def _outcome_field(task: HumanTaskModel) -> str | None:
    """The outcome form's field that says what the MDT recommended (the profile names it)."""
    return profile_for(task.instance.pathway_version).outcome_field


MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
MEASURE_BASE = "urn:mdt-pathways:measure:"
CASE_STATUS = "urn:mdt-pathways:case-status"


def _population(code: str, count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": MEASURE_POPULATION, "code": code}]}, "count": count}


def _measure_report(patient: PatientModel, case: ScorecardRow) -> dict[str, Any]:
    """One standards case as an individual MeasureReport: the same case, with the same status,
    as the record's scorecard and the managers' report."""
    row, status = case.view.row, case.view.status
    final = status not in (Status.PENDING, Status.OVERDUE)
    end = row.done_on or row.deadline_on or row.start_on
    return {
        "_urn": _urn("MeasureReport", f"{patient.id}/{row.measure}/{row.episode_id}/{row.task_id}"),
        "resourceType": "MeasureReport",
        "status": "complete" if final else "pending",
        "type": "individual",
        "measure": f"{MEASURE_BASE}{row.measure}",
        "subject": {"reference": _urn("Patient", patient.id)},
        "date": clock.now().isoformat(),
        "period": {"start": row.start_on.isoformat(), "end": max(end, row.start_on).isoformat()},
        "group": [
            {
                "code": {
                    "coding": [
                        {"system": CASE_STATUS, "code": status.value, "display": case.view.label}
                    ],
                    "text": f"{case.measure.code} {case.measure.title}: {case.view.why}",
                },
                "population": [
                    _population("initial-population", 1),
                    _population("denominator", 1 if status in COUNTED else 0),
                    _population("numerator", 1 if status in ACHIEVED else 0),
                    _population(
                        "denominator-exclusion", 1 if status == Status.NOT_APPLICABLE else 0
                    ),
                ],
            }
        ],
    }
