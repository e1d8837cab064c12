from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.types import UTCDateTime
from mdt.models.user import UserModel


class PatientModel(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(primary_key=True)
    nhs_number: Mapped[str] = mapped_column(String(10), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100), index=True)
    date_of_birth: Mapped[date] = mapped_column(Date, index=True)
    # Administrative sex as the PAS records it: female, male, other or unknown.
    sex: Mapped[str | None] = mapped_column(String(10))
    # The hospital number (medical record number) the PAS knows the patient by.
    mrn: Mapped[str | None] = mapped_column(String(20), index=True)
    consultant_name: Mapped[str | None] = mapped_column(String(200))
    # Given and family names folded (NFKD, accents removed, lower case) for search in any
    # order; kept by the service that writes names.
    search_name: Mapped[str | None] = mapped_column(String(210), index=True)
    # Set when a PAS merge folded this record into another: the record is kept (nothing is
    # deleted) and its identifiers still find the surviving one.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))
    # Where letters to the patient go: address lines (one a line) and the postcode apart.
    address: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(8))
    # The GP practice: its name, its ODS code (a letter and 5 digits, e.g. A81001) and the
    # address letters to it carry (lines with the postcode, one a line).
    gp_practice: Mapped[str | None] = mapped_column(String(200))
    gp_practice_code: Mapped[str | None] = mapped_column(String(6))
    gp_practice_address: Mapped[str | None] = mapped_column(Text)
    # Copying letters to patients: whether they asked for a copy of letters about them
    # (None: not asked yet).
    wants_letter_copies: Mapped[bool | None] = mapped_column(Boolean)
    # Recorded when a pathway records the death: no list, letter or task is for them again.
    date_of_death: Mapped[date | None] = mapped_column(Date)
    key_worker_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # As recorded on the pathway's key worker task (the named CNS may have no account here).
    key_worker_name: Mapped[str | None] = mapped_column(String(200))
    key_worker_phone: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    key_worker: Mapped[UserModel | None] = relationship(foreign_keys=[key_worker_id])

    @property
    def display_name(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name}"

    @property
    def nhs_number_spaced(self) -> str:
        n = self.nhs_number
        return f"{n[:3]} {n[3:6]} {n[6:]}"

    @property
    def address_lines(self) -> list[str]:
        return _lines(self.address)

    @property
    def gp_practice_address_lines(self) -> list[str]:
        return _lines(self.gp_practice_address)

    def age_on(self, day: date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _lines(text: str | None) -> list[str]:
    return [line for line in (text or "").split("\n") if line]


class PatientIdentifierModel(db.Model):  # type: ignore[name-defined,misc]
    """Every identifier a patient has had (NHS number, MRN), so one retired by a merge or a
    correction still finds the record it now belongs to."""

    __tablename__ = "patient_identifier"
    __table_args__ = (
        UniqueConstraint(
            "system", "value", "patient_id", name="uq_patient_identifier_system_value_patient"
        ),
        Index("ix_patient_identifier_lookup", "system", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    system: Mapped[str] = mapped_column(String(10))  # "nhs" or "mrn"
    value: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))  # registration, hl7, merge, fhir...
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
