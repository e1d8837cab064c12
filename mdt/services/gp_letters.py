"""The letter to the patient's GP after an MDT outcome: what the team knew, what it
recommends in sentences, who does what next, who tells the patient, and who signs it.

Nothing here knows the pathway. The sentences come from the outcome form's JSON Schema: a
field's ``x-letter`` is the sentence its answer makes (``{value}`` stands for the answer as
people read it), or a sentence per answer, or ``false`` to leave it out; ``x-letter-part``
puts it elsewhere than the recommendation (``informs-patient``). A field without one is
written "Question: answer". The actions are the tasks the outcome started, with their owners.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    MeetingModel,
    PathwayInstanceModel,
    PatientModel,
    TaskStatus,
    UserModel,
)
from mdt.models.roles import ROLE_LABELS, role_label
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.episodes import episodes_of
from mdt.services.errors import ConflictError, NotFoundError
from mdt.services.form_labels import answer_label, field_title
from mdt.services.pas.deaths import letters_held
from mdt.services.pathways import form_schema
from mdt.services.policy import may_run_meetings, require
from mdt.services.record_views import SummaryRow, clinical_summary, completed_tasks
from mdt.services.settings import setting

LETTER = "x-letter"
LETTER_PART = "x-letter-part"
RECOMMENDATION, INFORMS_PATIENT = "recommendation", "informs-patient"
PARTS = (RECOMMENDATION, INFORMS_PATIENT)
# The task that sends this very letter is not one of the actions it lists.
SENDS_THE_LETTER = "gp-letter"


@dataclass(frozen=True)
class LetterAction:
    what: str
    who: str
    due_on: date | None
    done_on: date | None


@dataclass(frozen=True)
class GpLetter:
    patient: PatientModel
    meeting: MeetingModel
    letter_date: date
    organisation: str
    organisation_address: list[str]
    clinical_question: str
    diagnosis: list[SummaryRow]
    recommendation: list[str]
    informs_patient: list[str]
    actions: list[LetterAction]
    signatory: str
    signatory_role: str
    copy_to_patient: bool


def gp_letter(actor: Actor, listing_id: int) -> GpLetter:
    """The GP letter for a confirmed outcome (its download is audited)."""
    require(may_run_meetings(actor), "Only MDT coordinators send GP letters.")
    listing = db.session.get(ListingModel, listing_id)
    if listing is None:
        raise NotFoundError("No such listing")
    outcome = listing.task
    if listing.status != ListingStatus.CONFIRMED or outcome.completed_at is None:
        raise ConflictError("There is no GP letter until the outcome is confirmed.")
    if letters_held(listing.patient_id):
        raise ConflictError(
            "Letters about this patient are held: the PAS reported their death and a "
            "coordinator has not yet confirmed or rejected it (Deaths reported)."
        )
    schema = form_schema(outcome.instance.pathway_version, outcome.form) or {}
    said = letter_sentences(schema, listing.outcome or {})
    name, role = _signatory(actor)
    letter = GpLetter(
        patient=listing.patient,
        meeting=listing.meeting,
        letter_date=clock.today(),
        organisation=str(setting("MDT_ORGANISATION")),
        organisation_address=[
            line.strip()
            for line in str(setting("MDT_ORGANISATION_ADDRESS")).split(";")
            if line.strip()
        ],
        clinical_question=listing.clinical_question,
        diagnosis=_diagnosis_at(outcome),
        recommendation=said[RECOMMENDATION],
        informs_patient=said[INFORMS_PATIENT],
        actions=_actions_after(outcome),
        signatory=name,
        signatory_role=role,
        copy_to_patient=bool(listing.patient.wants_letter_copies),
    )
    record_event(
        actor,
        "gpletter.downloaded",
        patient_id=listing.patient_id,
        object_type="meeting_listing",
        object_id=listing.id,
    )
    db.session.commit()
    return letter


def letter_sentences(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, list[str]]:
    """Each answered field as the sentence its ``x-letter`` makes, by part of the letter, in
    the form's order; "Question: answer" where the form gives no sentence for the answer."""
    parts: dict[str, list[str]] = {part: [] for part in PARTS}
    for name, prop in schema.get("properties", {}).items():
        value = data.get(name)
        spec = prop.get(LETTER)
        if value in (None, "", []) or spec is False:
            continue
        answer = answer_label(schema, name, value)
        if isinstance(spec, dict):
            spec = spec.get(_answer_key(value))
        sentence = (
            spec.replace("{value}", answer)
            if isinstance(spec, str) and spec.strip()
            else f"{field_title(schema, name)}: {answer}"
        )
        part = prop.get(LETTER_PART)
        parts[part if part in PARTS else RECOMMENDATION].append(sentence)
    return parts


def _answer_key(value: Any) -> str:
    """How an answer is named in a sentence-per-answer ``x-letter``: the stored value as
    JSON writes it (``true``, ``false``, ``2``, ``endocrine``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _diagnosis_at(outcome: HumanTaskModel) -> list[SummaryRow]:
    """The patient's clinical summary as the team had it when the outcome was confirmed,
    less what the outcome itself said (the letter says that in sentences)."""
    at = outcome.completed_at or clock.now()
    instances = db.session.scalars(
        select(PathwayInstanceModel.id).where(PathwayInstanceModel.patient_id == outcome.patient_id)
    )
    rows = clinical_summary(
        (t for t in completed_tasks(outcome.patient_id) if t.completed_at and t.completed_at <= at),
        (e for e in episodes_of(list(instances)) if e.recorded_at <= at),
    )
    return [r for r in rows if not (r.source == outcome.name and r.at == outcome.completed_at)]


def _actions_after(outcome: HumanTaskModel) -> list[LetterAction]:
    """The tasks the outcome started (the same save created them), with who does each: the
    person it is assigned to, or the role."""
    tasks = db.session.scalars(
        select(HumanTaskModel)
        .where(
            HumanTaskModel.instance_id == outcome.instance_id,
            HumanTaskModel.created_at == outcome.completed_at,
            HumanTaskModel.status != TaskStatus.CANCELLED,
            HumanTaskModel.id != outcome.id,
        )
        .order_by(HumanTaskModel.due_at.is_(None), HumanTaskModel.due_at, HumanTaskModel.id)
    )
    return [
        LetterAction(
            what=task.name,
            who=task.assigned_to.display_name
            if task.assigned_to
            else role_label(task.role or "") or "The team",
            due_on=_day(task.due_at),
            done_on=_day(task.completed_at) if task.status == TaskStatus.COMPLETED else None,
        )
        for task in tasks
        if task.mdt_step != SENDS_THE_LETTER
    ]


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(LONDON).date() if moment else None


def _signatory(actor: Actor) -> tuple[str, str]:
    """Who signs: the person sending the letter, and their role(s) as the service names
    them."""
    user = db.session.get(UserModel, actor.user_id) if actor.user_id else None
    roles = [label for role, label in ROLE_LABELS.items() if role in actor.roles]
    return (user.display_name if user else actor.username), ", ".join(roles) or "MDT member"
