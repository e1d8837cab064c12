"""Who a PAS message is about, and keeping a registered patient's identity in step with it.

A message names a person by NHS number and hospital number (MRN); the patient registered
here is found by NHS number, then MRN, then any identifier they have had (a number retired by
a merge or a correction), following a merge to the surviving record. Only registered patients
are updated: the PAS knows everyone in the hospital, this service only those on a pathway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import PatientIdentifierModel, PatientModel
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import InvalidInputError
from mdt.services.patient_contact import PRACTICE_CODE, normal_postcode, tidy_lines
from mdt.services.patient_identity import (
    clean_name,
    mrn_value,
    name_problem,
    nhs_digits,
    search_name,
)

SEXES = ("female", "male", "other", "unknown")


@dataclass(frozen=True)
class PasPerson:
    """A person as the PAS describes them, whatever the message's format. ``None`` (or an
    empty tuple) means the message did not say, and leaves what we have."""

    nhs_number: str | None = None
    mrn: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    address_lines: tuple[str, ...] = ()
    postcode: str | None = None
    gp_practice_code: str | None = None
    date_of_death: date | None = None
    died: bool = False


def find_registered(nhs_number: str | None, mrn: str | None) -> PatientModel | None:
    """The registered patient these identifiers name (the surviving record after a merge),
    or None: by NHS number, then MRN, then every identifier a patient has had."""
    number = nhs_digits(nhs_number) or None
    mrn = mrn_value(mrn)[:20] or None
    found = None
    if number:
        found = db.session.scalar(select(PatientModel).where(PatientModel.nhs_number == number))
    if found is None and mrn:
        found = db.session.scalar(
            select(PatientModel).where(PatientModel.mrn == mrn).order_by(PatientModel.id).limit(1)
        )
    for system, value in (("nhs", number), ("mrn", mrn)):
        if found is None and value:
            found = db.session.scalar(
                select(PatientModel)
                .join(PatientIdentifierModel, PatientIdentifierModel.patient_id == PatientModel.id)
                .where(
                    PatientIdentifierModel.system == system, PatientIdentifierModel.value == value
                )
                .order_by(PatientIdentifierModel.id.desc())
                .limit(1)
            )
    return surviving(found)


def surviving(patient: PatientModel | None) -> PatientModel | None:
    """Follow merges to the record that is kept."""
    seen: set[int] = set()
    while patient is not None and patient.merged_into_id and patient.id not in seen:
        seen.add(patient.id)
        patient = db.session.get(PatientModel, patient.merged_into_id)
    return patient


def remember_identifier(patient_id: int, system: str, value: str | None, source: str) -> bool:
    """Record that the patient has (or had) this identifier, once. Flushes."""
    if not value:
        return False
    known = db.session.scalar(
        select(PatientIdentifierModel.id).where(
            PatientIdentifierModel.patient_id == patient_id,
            PatientIdentifierModel.system == system,
            PatientIdentifierModel.value == value,
        )
    )
    if known is not None:
        return False
    db.session.add(
        PatientIdentifierModel(
            patient_id=patient_id, system=system, value=value[:20], source=source
        )
    )
    db.session.flush()
    return True


def update_demographics(
    actor: Actor, patient: PatientModel, person: PasPerson, source: str, message_id: int | None
) -> list[str]:
    """Bring the patient's identity in step with what the PAS says (names as written, the
    folded search name, date of birth, sex, address, postcode, GP practice code, MRN, NHS
    number), record new identifiers, and audit what changed. Returns the fields changed.
    Raises InvalidInputError (nothing changed) when what the PAS sent cannot be stored."""
    problems = {}
    for field in ("given_name", "family_name"):
        problem = name_problem(getattr(person, field))
        if problem:
            problems[field] = problem
    postcode = normal_postcode(person.postcode) if person.postcode else None
    if person.postcode and postcode is None:
        problems["postcode"] = f"{person.postcode!r} is not a UK postcode"
    code = "".join((person.gp_practice_code or "").upper().split()) or None
    if code and not PRACTICE_CODE.fullmatch(code):
        code = None  # a PD1-3 that is not an ODS code (a practice name, a local code): ignored
    number = nhs_digits(person.nhs_number) or None
    if number and not (len(number) == 10 and number.isdigit()):
        problems["nhs_number"] = f"{person.nhs_number!r} is not an NHS number (10 digits)"
    elif number and number != patient.nhs_number:
        holder = db.session.scalar(select(PatientModel.id).where(PatientModel.nhs_number == number))
        if holder is not None:
            problems["nhs_number"] = (
                f"NHS number {number} belongs to another registered patient (merge them first)"
            )
    if problems:
        raise InvalidInputError(problems)

    wanted: dict[str, object] = {}
    if person.given_name and clean_name(person.given_name):
        wanted["given_name"] = clean_name(person.given_name)[:100]
    if person.family_name and clean_name(person.family_name):
        wanted["family_name"] = clean_name(person.family_name)[:100]
    if person.date_of_birth:
        wanted["date_of_birth"] = person.date_of_birth
    if person.sex in SEXES:
        wanted["sex"] = person.sex
    lines = tidy_lines(person.address_lines)
    if lines:
        wanted["address"] = "\n".join(lines[:5])
    if postcode:
        wanted["postcode"] = postcode
    if code:
        wanted["gp_practice_code"] = code
    if person.mrn:
        wanted["mrn"] = mrn_value(person.mrn)[:20] or None
    if number:
        wanted["nhs_number"] = number
    changed = [name for name, value in wanted.items() if getattr(patient, name) != value]
    old_identifiers = [("nhs", patient.nhs_number), ("mrn", patient.mrn)]
    for name in changed:
        setattr(patient, name, wanted[name])
    name_now = search_name(patient.given_name, patient.family_name)
    if patient.search_name != name_now:
        patient.search_name = name_now
    db.session.flush()
    # Every number the patient has had still finds them.
    for system, value in old_identifiers:
        remember_identifier(patient.id, system, value, source)
    remember_identifier(patient.id, "nhs", patient.nhs_number, source)
    remember_identifier(patient.id, "mrn", patient.mrn, source)
    if changed:
        record_event(
            actor,
            "pas.demographics_updated",
            patient_id=patient.id,
            object_type="patient",
            object_id=patient.id,
            detail={"fields": changed, "source": source, "message": message_id},
        )
    return changed
