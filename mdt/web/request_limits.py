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

import json
import math
import re
from typing import Any

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from mdt.web.api.errors import is_api_request, json_error

MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 100

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


class HostileJSONError(ValueError):
    """A JSON body the service refuses, with the reason in plain words."""


def nesting_depth_over(body: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects more than ``limit`` levels deep.

    Without recursion and at the C speed of ``re``: strings are dropped (brackets inside
    them do not count), everything but brackets is dropped, then each pass takes away the
    innermost level; anything left after ``limit`` passes is deeper than ``limit``."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise HostileJSONError(
            f"A number in the JSON has more than {MAX_NUMBER_DIGITS} digits. "
            "Send numbers of a sensible size."
        )
    return int(text)


def _parse_float(text: str) -> float:
    if sum(ch.isdigit() for ch in text) > MAX_NUMBER_DIGITS:
        raise HostileJSONError(
            f"A number in the JSON has more than {MAX_NUMBER_DIGITS} digits. "
            "Send numbers of a sensible size."
        )
    value = float(text)
    if not math.isfinite(value):
        raise HostileJSONError(f"The number {text[:20]} in the JSON is too large.")
    return value


def _parse_constant(name: str) -> Any:
    raise HostileJSONError(f"{name} is not a number JSON allows. Send a number, or null.")


def check_json(body: bytes) -> None:
    """Raise ``HostileJSONError`` if the body is one the service refuses (see the module's
    docstring); syntax errors are not this check's business."""
    if nesting_depth_over(body, MAX_DEPTH):
        raise HostileJSONError(
            f"The JSON is nested more than {MAX_DEPTH} levels deep. Send a flatter document."
        )
    try:
        json.loads(
            body,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except HostileJSONError:
        raise
    except RecursionError:  # not reached after the depth check; kept as a backstop
        raise HostileJSONError("The JSON is nested too deeply.") from None
    except ValueError:
        return  # malformed JSON: the view's parser answers it


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
