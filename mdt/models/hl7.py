"""What the patient administration system (PAS) told us: each HL7 v2 message (or FHIR Patient
update) as received, with what was done about it, and the deaths it reported waiting for a
coordinator to confirm."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.patient import PatientModel
from mdt.models.types import UTCDateTime
from mdt.models.user import UserModel


class Hl7MessageModel(db.Model):  # type: ignore[name-defined,misc]
    """One message from the PAS, stored as received and processed exactly once: its control
    id (MSH-10) is unique, so a repeat (or a second listener) finds the first and answers
    with the same acknowledgement."""

    __tablename__ = "hl7_message"
    __table_args__ = (Index("ix_hl7_message_outcome", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # MSH-10; None only for a message too malformed to carry one.
    control_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    # "ADT^A31", "Patient" (a FHIR update), or "" when unreadable.
    message_type: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(10))  # "hl7" or "fhir"
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # applied, not_applicable, not_on_pathway, error (AE), rejected (AR)
    outcome: Mapped[str] = mapped_column(String(20))
    ack_code: Mapped[str] = mapped_column(String(2))  # AA, AE, AR
    # The acknowledgement exactly as sent, so a repeat gets the same one.
    ack: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    # The identifiers it named, so staff can register someone the PAS told us about without
    # typing their details again.
    nhs_number: Mapped[str | None] = mapped_column(String(10), index=True)
    mrn: Mapped[str | None] = mapped_column(String(20), index=True)

    patient: Mapped[PatientModel | None] = relationship()


class DeathNotificationModel(db.Model):  # type: ignore[name-defined,misc]
    """The PAS reports a death: until a coordinator confirms it (closing the pathway as of
    the date of death) or says it is not this patient, letters are held."""

    __tablename__ = "death_notification"
    __table_args__ = (Index("ix_death_notification_status", "status", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    date_of_death: Mapped[date] = mapped_column(Date)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("hl7_message.id"))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # confirmed, rejected
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[PatientModel] = relationship()
    message: Mapped[Hl7MessageModel | None] = relationship()
    decided_by: Mapped[UserModel | None] = relationship()
