"""Registering someone the PAS has told us about: their details as its latest message gave
them, so staff check them with the patient instead of typing them again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import hl7
from sqlalchemy import or_, select

from mdt.extensions import db
from mdt.models import Hl7MessageModel
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import PermissionDeniedError
from mdt.services.pas.demographics import PasPerson
from mdt.services.pas.messages import (
    APPLIED,
    DEMOGRAPHICS,
    NOT_APPLICABLE,
    NOT_ON_PATHWAY,
    person_from_pid,
)
from mdt.services.patient_identity import mrn_value, nhs_digits
from mdt.services.policy import REGISTER_ROLES

# Messages whose demographics were read: applied, nothing to change, or not registered here.
_READ = (APPLIED, NOT_APPLICABLE, NOT_ON_PATHWAY)


@dataclass(frozen=True)
class PasDetails:
    person: PasPerson
    received_at: datetime
    message_type: str


def pas_details(actor: Actor, identifier: str) -> PasDetails | None:
    """The person the PAS's latest demographic message named by this NHS number or hospital
    number, or None. Audited: it reads a person's details."""
    if not actor.has_role(*REGISTER_ROLES):
        raise PermissionDeniedError("Only those who register patients look people up.")
    number, mrn = nhs_digits(identifier), mrn_value(identifier)
    if not (number or mrn):
        return None
    row = db.session.scalar(
        select(Hl7MessageModel)
        .where(
            Hl7MessageModel.source == "hl7",
            Hl7MessageModel.outcome.in_(_READ),
            or_(Hl7MessageModel.nhs_number == number[:10], Hl7MessageModel.mrn == mrn[:20]),
        )
        .order_by(Hl7MessageModel.received_at.desc(), Hl7MessageModel.id.desc())
        .limit(1)
    )
    found = None
    if row is not None and row.message_type.split("^")[-1] in DEMOGRAPHICS:
        found = PasDetails(person_from_pid(hl7.parse(row.raw)), row.received_at, row.message_type)
    record_event(
        actor,
        "pas.looked_up",
        object_type="hl7_message",
        object_id=row.id if found and row else None,
        detail={"found": found is not None},
    )
    db.session.commit()
    return found
