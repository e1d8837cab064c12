"""NHS numbers: ten digits with a modulus 11 check digit."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s-]")


def normalise(raw: str) -> str:
    return _SEPARATORS.sub("", raw or "")


def check_digit_ok(number: str) -> bool:
    if not re.fullmatch(r"\d{10}", number):
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(number[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(number[9])


def problem_with(raw: str, allow_test_range: bool) -> str | None:
    """Why ``raw`` is not an acceptable NHS number, or None when it is."""
    number = normalise(raw)
    if not number:
        return "Enter the NHS number"
    if not re.fullmatch(r"\d{10}", number):
        return "NHS number must be 10 digits"
    if not check_digit_ok(number) or len(set(number)) == 1:
        return "Enter a valid NHS number: the check digit does not match"
    if number.startswith("999") and not allow_test_range:
        return "NHS numbers starting 999 are test numbers and are not accepted here"
    return None
