"""NHS numbers: ten digits with a modulus 11 check digit, checked by the ``nhs-number``
package after the one normalisation every NHS number gets (``patient_identity.nhs_digits``:
fullwidth, Arabic-Indic or any other script's digits are the same number in ASCII, spaces
and hyphens go), so a number typed in another script is checked, refused in the test range
and stored exactly like the ASCII one."""

from __future__ import annotations

import re

import nhs_number as nhs_package

from mdt.services.patient_identity import nhs_digits

# ASCII only: the package's own pattern is ``\d``, which in Python matches any script's
# digits; our numbers are normalised first and must then be plain 0-9.
_TEN_DIGITS = re.compile(r"[0-9]{10}")


def normalise(raw: str | None) -> str:
    """The number as stored and compared: ASCII digits, no separators (see nhs_digits)."""
    return nhs_digits(raw)


def check_digit_ok(number: str) -> bool:
    """Whether ``number`` (already normalised) is ten ASCII digits the package accepts:
    the modulus 11 check digit right (and, in the Scottish CHI range, a real birth date)."""
    return bool(_TEN_DIGITS.fullmatch(number)) and nhs_package.is_valid(number)


def problem_with(raw: str | None, allow_test_range: bool) -> str | None:
    """Why ``raw`` is not an acceptable NHS number, or None when it is."""
    number = normalise(raw)
    if not number:
        return "Enter the NHS number"
    if not _TEN_DIGITS.fullmatch(number):
        return "NHS number must be 10 digits"
    if len(set(number)) == 1 or nhs_package.calculate_checksum(number[:9]) != int(number[9]):
        return "Enter a valid NHS number: the check digit does not match"
    if not check_digit_ok(number):
        return "Enter a valid NHS number: this is not a number the NHS issues"
    if number.startswith("999") and not allow_test_range:
        return "NHS numbers starting 999 are test numbers and are not accepted here"
    return None
