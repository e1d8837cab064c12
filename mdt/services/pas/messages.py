"""HL7 v2 ADT messages from the PAS: stored as received, processed exactly once, answered.

``handle_hl7`` is the one use case: it claims the message's control id (MSH-10) by inserting
its row (the column is unique, so of two listeners, or a repeat, only the first goes on; the
others wait for it and answer with its acknowledgement), applies it in the same transaction,
audits it and commits. Messages are processed one at a time in the order they arrive, so the
messages about one patient apply in order.

Acknowledgements (built by python-hl7's ``create_ack``):

- **AA** the message was applied, or needed nothing (the person is not on a pathway here:
  counted as "not on a pathway"; or it changed nothing);
- **AE** it was understood but could not be applied (a name with hidden characters, a merge
  naming an NHS number another patient holds...): nothing changed, the reason is in MSA-3;
- **AR** malformed or not a message this service takes: stored, nothing applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import hl7
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from mdt import clock
from mdt.extensions import db
from mdt.models import DeathNotificationModel, Hl7MessageModel
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import DomainError, InvalidInputError
from mdt.services.pas.deaths import PENDING, report_death
from mdt.services.pas.demographics import (
    PasPerson,
    find_registered,
    remember_identifier,
    update_demographics,
)
from mdt.services.pas.merge import merge_patients
from mdt.services.patient_identity import mrn_value, nhs_digits

log = logging.getLogger(__name__)

# Who acts when the PAS feed changes something (the audit trail names it).
PAS_FEED = Actor(user_id=None, username="pas-feed", roles=frozenset(), ip_address=None)

DEMOGRAPHICS = frozenset({"A01", "A04", "A08", "A28", "A31"})
SUPPORTED = DEMOGRAPHICS | {"A03", "A40"}
APPLIED, NOT_APPLICABLE, NOT_ON_PATHWAY = "applied", "not_applicable", "not_on_pathway"
ERROR, REJECTED = "error", "rejected"
OUTCOME_LABELS = {
    APPLIED: "applied",
    NOT_APPLICABLE: "needed nothing",
    NOT_ON_PATHWAY: "not on a pathway",
    ERROR: "could not be applied (AE)",
    REJECTED: "rejected (AR)",
}
SEX_CODES = {"F": "female", "M": "male", "O": "other", "U": "unknown", "A": "other", "N": "other"}


class Malformed(Exception):
    """The message cannot be read as a supported ADT message (answered AR)."""


@dataclass(frozen=True)
class Result:
    outcome: str
    ack_code: str
    text: str = ""
    patient_id: int | None = None


def handle_hl7(raw: str) -> str:
    """Store, process (once) and acknowledge one message; returns the acknowledgement as
    text. Never raises for anything the message contains."""
    try:
        message = hl7.parse(raw)
        message.segment("MSH")  # KeyError without one
        control_id = _get(message, "MSH.F10")
        trigger = _get(message, "MSH.F9.R1.C2")
        kind = f"{_get(message, 'MSH.F9.R1.C1')}^{trigger}"
        if not control_id or not _get(message, "MSH.F9.R1.C1"):
            raise Malformed("MSH-9 (message type) and MSH-10 (control id) are required")
    except Exception as error:  # any failure to read it: a malformed message, AR
        return _store_rejected(raw, f"Malformed message: {error}")
    row = _claim(raw, control_id, kind)
    if row is None:  # a repeat (or another listener had it first): the first answer again
        first = db.session.scalar(
            select(Hl7MessageModel.ack).where(Hl7MessageModel.control_id == control_id)
        )
        db.session.rollback()
        if first:
            return first
        return str(_ack(message, "AR", "Message is being processed; send it again later"))
    try:
        result = _apply(message, kind, trigger, row)
    except Malformed as error:
        result = Result(REJECTED, "AR", str(error))
    except DomainError as error:
        result = Result(ERROR, "AE", _explain(error))
    except Exception:  # a fault here must not stop the feed: the message is kept, AE
        log.exception("HL7 message %s could not be applied", control_id)
        result = Result(ERROR, "AE", "Internal error while applying the message")
    if result.ack_code != "AA":
        # Nothing of a message that could not be applied is kept but the message itself.
        db.session.rollback()
        row = _claim(raw, control_id, kind)
        if row is None:
            return handle_hl7(raw)
    ack = str(_ack(message, result.ack_code, result.text))
    row.outcome = result.outcome
    row.ack_code = result.ack_code
    row.ack = ack
    row.error = result.text if result.ack_code != "AA" else None
    row.patient_id = result.patient_id
    row.processed_at = clock.now()
    record_event(
        PAS_FEED,
        "pas.message_processed",
        patient_id=result.patient_id,
        object_type="hl7_message",
        object_id=row.id,
        detail={
            "type": kind,
            "control_id": control_id,
            "outcome": result.outcome,
            "ack": result.ack_code,
        },
    )
    db.session.commit()
    return ack


def _claim(raw: str, control_id: str, kind: str) -> Hl7MessageModel | None:
    """Insert the message's row (the conditional insert that makes processing once): None
    if a row with this control id exists (committed by another transaction)."""
    row = Hl7MessageModel(
        control_id=control_id[:200],
        message_type=kind[:30],
        source="hl7",
        raw=raw,
        received_at=clock.now(),
        outcome="received",
        ack_code="",
    )
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return None
    return row


def _store_rejected(raw: str, why: str) -> str:
    db.session.rollback()
    try:
        message = hl7.parse(raw)
        ack = str(_ack(message, "AR", why))
    except Exception:  # no usable MSH: answer from a blank one
        ack = str(_ack(hl7.parse("MSH|^~\\&|||||||ACK^^ACK||P|2.4"), "AR", why))
    row = Hl7MessageModel(
        control_id=None,
        message_type="",
        source="hl7",
        raw=raw,
        received_at=clock.now(),
        processed_at=clock.now(),
        outcome=REJECTED,
        ack_code="AR",
        ack=ack,
        error=why[:2000],
    )
    db.session.add(row)
    db.session.flush()
    record_event(
        PAS_FEED,
        "pas.message_rejected",
        object_type="hl7_message",
        object_id=row.id,
        detail={"why": why[:500]},
    )
    db.session.commit()
    return ack


def _ack(message: hl7.Message, code: str, text: str) -> hl7.Message:
    try:
        ack = message.create_ack(code, application="MDT")
    except IndexError:
        ack = hl7.parse("MSH|^~\\&|||||||ACK^^ACK||P|2.4").create_ack(code, application="MDT")
    if text:
        ack.segment("MSA").assign_field(_escape(message, text[:200]), 3)
    return ack


def _escape(message: hl7.Message, text: str) -> str:
    try:
        return message.escape(text)
    except Exception:  # a message without separators: plain text
        return "".join(ch for ch in text if ch not in "|^~\\&")


def _apply(message: hl7.Message, kind: str, trigger: str, row: Hl7MessageModel) -> Result:
    if not kind.startswith("ADT^") or trigger not in SUPPORTED:
        raise Malformed(
            f"Unsupported message type {kind} (this service takes ADT "
            f"{', '.join(sorted(SUPPORTED))})"
        )
    if not _has(message, "PID"):
        raise Malformed("The message has no PID segment")
    person = person_from_pid(message)
    if not person.nhs_number and not person.mrn:
        raise Malformed("PID-3 names neither an NHS number (NH) nor a hospital number (MR)")
    row.nhs_number = nhs_digits(person.nhs_number)[:10] or None
    row.mrn = mrn_value(person.mrn)[:20] or None
    patient = find_registered(person.nhs_number, person.mrn)
    if trigger == "A40":
        return _merge(message, person, row)
    if patient is None:
        return Result(NOT_ON_PATHWAY, "AA", "Not on a pathway here: nothing updated")
    changed = update_demographics(PAS_FEED, patient, person, "hl7", row.id)
    died = person.died or person.date_of_death is not None
    death = None
    if died:
        if person.date_of_death is None:
            raise InvalidInputError(
                {"date_of_death": "PID-30 says the patient died; PID-29 (date of death) is needed"}
            )
        death = report_death(PAS_FEED, patient, person.date_of_death, row.id)
    if trigger == "A03" and not died:
        record_event(
            PAS_FEED,
            "pas.discharged",
            patient_id=patient.id,
            object_type="hl7_message",
            object_id=row.id,
        )
    if changed or death is not None:
        text = "Applied" + (
            ": death reported, waiting for a coordinator to confirm" if death else ""
        )
        return Result(APPLIED, "AA", text, patient.id)
    return Result(NOT_APPLICABLE, "AA", "Nothing to change", patient.id)


def _merge(message: hl7.Message, person: PasPerson, row: Hl7MessageModel) -> Result:
    if not _has(message, "MRG"):
        raise Malformed("An A40 needs an MRG segment naming the record to retire")
    old_nhs, old_mrn = _identifiers(message, "MRG.F1")
    retired = find_registered(old_nhs, old_mrn)
    survivor = find_registered(person.nhs_number, person.mrn)
    if retired is None and survivor is None:
        return Result(NOT_ON_PATHWAY, "AA", "Not on a pathway here: nothing updated")
    if retired is None:
        # The retired record never came here: its numbers still find the survivor.
        assert survivor is not None  # both None was answered above
        remember_identifier(survivor.id, "nhs", nhs_digits(old_nhs) or None, "merge")
        remember_identifier(survivor.id, "mrn", old_mrn, "merge")
        return Result(
            NOT_APPLICABLE,
            "AA",
            "The retired record is not registered here",
            survivor.id if survivor else None,
        )
    if survivor is None:
        # Only the retired record is here: it takes the surviving identifiers.
        update_demographics(PAS_FEED, retired, person, "hl7", row.id)
        return Result(APPLIED, "AA", "The surviving record's identifiers were recorded", retired.id)
    if survivor.id == retired.id:
        return Result(NOT_APPLICABLE, "AA", "Already merged", survivor.id)
    result = merge_patients(PAS_FEED, survivor, retired, row.id)
    update_demographics(PAS_FEED, survivor, person, "hl7", row.id)
    # The identifiers MRG-1 names as prior ones find the survivor too.
    remember_identifier(survivor.id, "nhs", nhs_digits(old_nhs) or None, "merge")
    remember_identifier(survivor.id, "mrn", old_mrn, "merge")
    return Result(APPLIED, "AA", result.note, survivor.id)


def person_from_pid(message: hl7.Message) -> PasPerson:
    nhs, mrn = _identifiers(message, "PID.F3")
    address = [_text(message, f"PID.F11.R1.C{part}") for part in (1, 2, 3, 4)]
    died_on = _date(_get(message, "PID.F29.R1.C1"))
    gp_code = _get(message, "PD1.F3.R1.C3") if _has(message, "PD1") else ""
    return PasPerson(
        nhs_number=nhs,
        mrn=mrn,
        given_name=_text(message, "PID.F5.R1.C2") or None,
        family_name=_text(message, "PID.F5.R1.C1") or None,
        date_of_birth=_date(_get(message, "PID.F7.R1.C1")),
        sex=SEX_CODES.get(_get(message, "PID.F8").upper()),
        address_lines=tuple(line for line in address if line),
        postcode=_get(message, "PID.F11.R1.C5") or None,
        gp_practice_code=gp_code or None,
        date_of_death=died_on,
        died=_get(message, "PID.F30").upper() == "Y",
    )


def _identifiers(message: hl7.Message, path: str) -> tuple[str | None, str | None]:
    """(NHS number, MRN) from a CX field's repetitions: type NH or authority NHS, type MR."""
    nhs = mrn = None
    segment_name, field_name = path.split(".")
    try:
        count = len(message.segment(segment_name)(int(field_name[1:])))
    except (KeyError, IndexError):
        count = 0
    for repeat in range(1, count + 1):
        value = _get(message, f"{path}.R{repeat}.C1")
        authority = _get(message, f"{path}.R{repeat}.C4").upper()
        kind = _get(message, f"{path}.R{repeat}.C5").upper()
        if value and (kind == "NH" or authority == "NHS") and nhs is None:
            nhs = value
        elif value and kind == "MR" and mrn is None:
            mrn = value
    return nhs, mrn


def _has(message: hl7.Message, segment: str) -> bool:
    try:
        return bool(message.segments(segment))
    except KeyError:
        return False


def _get(message: hl7.Message, path: str) -> str:
    try:
        return str(message[path]).strip()
    except (KeyError, IndexError):
        return ""


def _text(message: hl7.Message, path: str) -> str:
    value = _get(message, path)
    return message.unescape(value) if value else ""


def _date(value: str) -> date | None:
    digits = value[:8]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError as error:
        raise Malformed(f"{value!r} is not a date") from error


def _explain(error: DomainError) -> str:
    errors = getattr(error, "errors", None)
    return "; ".join(errors.values()) if errors else str(error)


def message_counts() -> dict[str, int]:
    """How many messages came to each outcome (and deaths waiting), for the status command."""
    rows = db.session.execute(
        select(Hl7MessageModel.outcome, func.count()).group_by(Hl7MessageModel.outcome)
    ).all()
    counts = {outcome: count for outcome, count in rows}
    counts["deaths_pending"] = (
        db.session.scalar(
            select(func.count())
            .select_from(DeathNotificationModel)
            .where(DeathNotificationModel.status == PENDING)
        )
        or 0
    )
    return counts
