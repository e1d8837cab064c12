"""Where a patient lives, who their GP practice is, and whether they want copies of letters
about them: checked and tidied one way, whether typed on the screen or sent to the API.

A GP practice is named by its ODS code (Organisation Data Service: a letter and 5 digits,
e.g. A81001); postcodes are UK postcodes, stored in capitals with one space (LS1 4AP).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from mdt.models import PatientModel
from mdt.services.patient_identity import clean_name, name_problem

PRACTICE_CODE = re.compile(r"[A-Z][0-9]{5}")
# Outward code (area, district) and inward code (sector, unit), e.g. LS1 4AP, SW1A 2AA;
# ZZ99 3VZ is the NHS's postcode for no fixed abode.
POSTCODE = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})")
MAX_LINES = 5
MAX_LINE_LENGTH = 100


@dataclass(frozen=True)
class ContactDetails:
    """As typed; ``checked`` tidies it and says what is wrong."""

    address_lines: tuple[str, ...] = ()
    postcode: str | None = None
    gp_practice_code: str | None = None
    gp_practice_address_lines: tuple[str, ...] = ()
    wants_letter_copies: bool | None = None


def split_lines(text: str | None) -> tuple[str, ...]:
    """A textarea's lines, trimmed, blank ones dropped."""
    return tidy_lines((text or "").splitlines())


def tidy_lines(lines: Iterable[str]) -> tuple[str, ...]:
    """Each line NFC with single spaces, blank ones dropped (letters print as typed)."""
    return tuple(clean_name(line) for line in lines if line and line.strip())


def _compact(text: str | None) -> str:
    """Capitals, no spaces, fullwidth letters and digits as ASCII (a code typed on a phone
    or pasted from a document is the same code)."""
    return "".join(unicodedata.normalize("NFKC", text or "").upper().split())


def normal_postcode(text: str | None) -> str | None:
    """``ls14ap`` as ``LS1 4AP``; None if it is not a UK postcode (or is empty)."""
    found = POSTCODE.fullmatch(_compact(text))
    return f"{found.group(1)} {found.group(2)}" if found else None


def _lines_problem(lines: tuple[str, ...], what: str) -> str | None:
    if any(name_problem(line) for line in lines):
        return f"Type {what} again: it holds hidden formatting or control characters"
    if len(lines) > MAX_LINES:
        return f"Enter {what} in {MAX_LINES} lines or fewer"
    if any(len(line) > MAX_LINE_LENGTH for line in lines):
        return f"Each line of {what} must be {MAX_LINE_LENGTH} characters or fewer"
    return None


def checked(details: ContactDetails) -> tuple[ContactDetails, dict[str, str]]:
    """The details tidied (postcode and ODS code in capitals), and every problem at once,
    by field name."""
    errors: dict[str, str] = {}
    lines = tidy_lines(details.address_lines)
    practice_lines = tidy_lines(details.gp_practice_address_lines)
    typed_postcode = (details.postcode or "").strip()
    postcode = normal_postcode(typed_postcode)
    code = _compact(details.gp_practice_code) or None
    problem = _lines_problem(lines, "the patient's address")
    if problem:
        errors["address_lines"] = problem
    elif typed_postcode and not lines:
        errors["address_lines"] = "Enter the patient's address as well as the postcode"
    elif lines and not typed_postcode:
        errors["postcode"] = "Enter the patient's postcode"
    elif details.wants_letter_copies and not lines:
        errors["address_lines"] = (
            "Enter the patient's address, so that copies of letters reach them"
        )
    if typed_postcode and postcode is None:
        errors["postcode"] = "Enter a real UK postcode, like LS1 4AP"
    if code and not PRACTICE_CODE.fullmatch(code):
        errors["gp_practice_code"] = (
            "GP practice ODS code must be a letter followed by 5 numbers, like A81001"
        )
    problem = _lines_problem(practice_lines, "the GP practice's address")
    if problem:
        errors["gp_practice_address_lines"] = problem
    tidy = ContactDetails(lines, postcode, code, practice_lines, details.wants_letter_copies)
    return tidy, errors


def apply_contact(patient: PatientModel, details: ContactDetails) -> None:
    """Put checked details on the patient record."""
    patient.address = "\n".join(details.address_lines) or None
    patient.postcode = details.postcode
    patient.gp_practice_code = details.gp_practice_code
    patient.gp_practice_address = "\n".join(details.gp_practice_address_lines) or None
    patient.wants_letter_copies = details.wants_letter_copies
