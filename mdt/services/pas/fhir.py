"""FHIR R4 ``Patient`` updates (``PUT /api/v1/fhir/Patient/<NHS number>``): for systems that
speak FHIR rather than HL7 v2, the same processing as an ADT A31 (and, with ``deceased[x]``,
a death report). The resource is checked with fhir.resources' R4B models and stored as
received with what was done, like an HL7 message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import Hl7MessageModel
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import InvalidInputError
from mdt.services.pas.deaths import report_death
from mdt.services.pas.demographics import PasPerson, find_registered, update_demographics
from mdt.services.pas.messages import APPLIED, ERROR, NOT_APPLICABLE, NOT_ON_PATHWAY, REJECTED
from mdt.services.patient_identity import nhs_digits
from mdt.services.policy import REGISTER_ROLES, require

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
GENDERS = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


@dataclass(frozen=True)
class FhirOutcome:
    outcome: str
    patient_id: int | None
    message: str
    death_reported: bool = False


def apply_fhir_patient(actor: Actor, nhs_number: str, resource: dict[str, Any]) -> FhirOutcome:
    """Apply a FHIR Patient to the registered patient with this NHS number (nothing for
    someone not registered here: counted). Raises InvalidInputError, the resource kept,
    when it is not a valid Patient or cannot be applied."""
    require(
        actor.has_role(*REGISTER_ROLES),
        "Only coordinators and nurses (or a PAS account with one of those roles) update "
        "patients' details.",
    )
    raw = json.dumps(resource, ensure_ascii=False, sort_keys=True)
    number = nhs_digits(nhs_number)
    try:
        patient_resource = Patient.model_validate(resource)
        person = person_from_fhir(patient_resource, number)
    except (ValidationError, ValueError) as error:
        _store(raw, REJECTED, "AR", None, str(error)[:2000])
        raise InvalidInputError({"resource": f"Not a valid FHIR R4 Patient: {error}"}) from None
    row = _row(raw, "received", "")
    patient = find_registered(person.nhs_number, person.mrn)
    if patient is None:
        outcome = FhirOutcome(NOT_ON_PATHWAY, None, "Not on a pathway here: nothing updated")
    else:
        try:
            changed = update_demographics(actor, patient, person, "fhir", row.id)
        except InvalidInputError as error:
            db.session.rollback()
            _store(raw, ERROR, "AE", patient.id, "; ".join(error.errors.values()))
            raise
        death = (
            report_death(actor, patient, person.date_of_death, row.id)
            if person.date_of_death
            else None
        )
        outcome = FhirOutcome(
            APPLIED if changed or death else NOT_APPLICABLE,
            patient.id,
            "Applied" if changed or death else "Nothing to change",
            death is not None,
        )
    row.outcome = outcome.outcome
    row.ack_code = "AA"
    row.patient_id = outcome.patient_id
    row.processed_at = clock.now()
    record_event(
        actor,
        "pas.fhir_patient_received",
        patient_id=outcome.patient_id,
        object_type="hl7_message",
        object_id=row.id,
        detail={"outcome": outcome.outcome},
    )
    db.session.commit()
    return outcome


def person_from_fhir(resource: Patient, nhs_number: str) -> PasPerson:
    """What the resource says; its NHS number identifier, if any, must be the one in the
    address it was sent to."""
    sent = [
        nhs_digits(i.value) for i in resource.identifier or [] if i.system == NHS_SYSTEM and i.value
    ]
    if any(value != nhs_number for value in sent):
        raise ValueError("the resource's NHS number is not the one in the address")
    name = next((n for n in resource.name or [] if n.use in (None, "official", "usual")), None)
    address = next(iter(resource.address or []), None)
    lines = tuple(line for line in (address.line or []) if line) if address else ()
    if address and address.city:
        lines += (address.city,)
    practice = None
    for reference in resource.generalPractitioner or []:
        identifier = reference.identifier
        if identifier is not None and identifier.system == ODS_SYSTEM and identifier.value:
            practice = identifier.value
    died_on = _died_on(resource)
    return PasPerson(
        nhs_number=nhs_number,
        given_name=" ".join(g for g in name.given if g) if name and name.given else None,
        family_name=name.family if name else None,
        date_of_birth=resource.birthDate,
        sex=GENDERS.get(resource.gender or ""),
        address_lines=lines,
        postcode=address.postalCode if address else None,
        gp_practice_code=practice,
        date_of_death=died_on,
        died=died_on is not None,
    )


def _died_on(resource: Patient) -> date | None:
    value = resource.deceasedDateTime
    if isinstance(value, datetime):
        return value.astimezone(LONDON).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        return date.fromisoformat(value[:10])
    if resource.deceasedBoolean:
        raise ValueError("deceasedBoolean without a date: send deceasedDateTime")
    return None


def _row(raw: str, outcome: str, ack_code: str) -> Hl7MessageModel:
    row = Hl7MessageModel(
        control_id=None,
        message_type="Patient",
        source="fhir",
        raw=raw,
        received_at=clock.now(),
        outcome=outcome,
        ack_code=ack_code,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _store(raw: str, outcome: str, code: str, patient_id: int | None, error: str) -> None:
    row = _row(raw, outcome, code)
    row.processed_at = clock.now()
    row.patient_id = patient_id
    row.error = error
    db.session.commit()
