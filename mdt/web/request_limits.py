"""JSON bodies the service refuses at the door, before any view or check reads them.

One place for the API and every JSON post: a body nested more than ``MAX_DEPTH`` levels
deep (Python's parser recurses, and so do the checks after it: a deep body was a 500), a
number of more than ``MAX_NUMBER_DIGITS`` digits (a 5,000-digit number was a 500, and no
clinical value needs more), NaN or Infinity (not JSON; they compare false with everything),
and a body larger than ``MAX_CONTENT_LENGTH`` (413). Each answers in plain words: a JSON
error for the API, the error page for a screen. Malformed JSON is left to the view's own
parsing, which already answers 400 or 422.
"""

from __future__ import annotations

import math
import re
from typing import Any

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from mdt.web.api.errors import is_api_request, json_error

MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 100

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # unrolled: fast on long strings
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")
_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (MAX_NUMBER_DIGITS + 1))
_EXPONENT = re.compile(rb"[eE][+-]?[0-9]+")  # outside strings, only numbers have these
_MANTISSA = re.compile(rb"[0-9.]+\Z")


class HostileJSONError(ValueError):
    """A JSON body the service refuses, with the reason in plain words."""


def _outside_strings(body: bytes) -> bytes:
    return _STRING.sub(b"", body)


def nesting_depth_over(body: bytes, limit: int, *, stripped: bytes | None = None) -> bool:
    """Whether the JSON text nests arrays and objects more than ``limit`` levels deep.

    Without recursion and at the C speed of ``re``: strings are dropped (brackets inside
    them do not count), everything but brackets is dropped, then each pass takes away the
    innermost level; anything left after ``limit`` passes is deeper than ``limit`` (or
    unbalanced: refused too, as a parser would recurse into it just the same)."""
    text = _outside_strings(body) if stripped is None else stripped
    brackets = text.translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


def _too_many_digits() -> HostileJSONError:
    return HostileJSONError(
        f"A number in the JSON has more than {MAX_NUMBER_DIGITS} digits. "
        "Send numbers of a sensible size."
    )


def check_json(body: bytes) -> None:
    """Raise ``HostileJSONError`` if the body is one the service refuses (see the module's
    docstring); syntax errors are not this check's business.

    Read as text with ``re`` and never parsed here (a parse builds every object: seconds
    for a large body, before the view parses it again): outside strings, a run of digits
    is a number, a word is ``true``, ``false`` or ``null`` (or NaN and Infinity, refused),
    and an exponent is where a number can be too large for a float."""
    stripped = _outside_strings(body)
    if nesting_depth_over(body, MAX_DEPTH, stripped=stripped):
        raise HostileJSONError(
            f"The JSON is nested more than {MAX_DEPTH} levels deep, or its brackets do not "
            "match. Send a flatter, complete document."
        )
    if _LONG_DIGITS.search(stripped):
        raise _too_many_digits()
    for name in (b"NaN", b"Infinity"):
        if name in stripped:
            raise HostileJSONError(
                f"{name.decode()} is not a number JSON allows. Send a number, or null."
            )
    for exponent in _EXPONENT.finditer(stripped):
        # The mantissa before it: digits and a point, at most the digits allowed and a few.
        before = stripped[max(0, exponent.start() - MAX_NUMBER_DIGITS - 3) : exponent.start()]
        mantissa = _MANTISSA.search(before)
        text = (mantissa.group() if mantissa else b"").decode() + exponent.group().decode()
        try:
            value = float(text)
        except ValueError:
            continue  # malformed JSON: the view's parser answers it
        if not math.isfinite(value):
            raise HostileJSONError(f"The number {text[-24:]} in the JSON is too large.")


def _refuse(status: int, message: str) -> Any:
    if is_api_request():
        return json_error(status, message)
    from mdt.web.errors import render_error  # the error pages import the API's shapes

    return render_error(400, message)


def install_request_limits(app: Flask) -> None:
    """Register the check. Call it before ``install_security``: that hook reads the body."""

    @app.before_request
    def _refuse_hostile_json() -> Any:
        if not request.is_json:
            return None
        try:
            body = request.get_data(cache=True)
        except RequestEntityTooLarge:
            limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
            return _refuse(
                413,
                f"The request is larger than the {limit // (1024 * 1024)} MB this service accepts.",
            )
        if not body:
            return None
        try:
            check_json(body)
        except HostileJSONError as error:
            return _refuse(400, str(error))
        return None
