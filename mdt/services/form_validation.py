"""Server-side validation of task form data against its JSON Schema, in plain English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

_FORMATS = FormatChecker(formats=("date", "email"))


def _title(schema: Mapping[str, Any], field: str) -> str:
    prop = schema.get("properties", {}).get(field, {})
    return str(prop.get("title") or field.replace("_", " ")).rstrip("?")


def _message(schema: Mapping[str, Any], error: ValidationError) -> tuple[str, str]:
    if error.validator == "required":
        field = str(error.message).split("'")[1]
        prop = schema.get("properties", {}).get(field, {})
        verb = (
            "Select"
            if ("enum" in prop or "oneOf" in prop or prop.get("type") in ("boolean", "array"))
            else "Enter"
        )
        return field, f"{verb} {_title(schema, field).lower()}"
    field = str(error.path[0]) if error.path else "_form"
    title = _title(schema, field)
    value = error.validator_value
    messages = {
        "minimum": f"{title} must be {value} or more",
        "maximum": f"{title} must be {value} or less",
        "minLength": f"Enter {title.lower()}"
        if value == 1
        else f"{title} must be at least {value} characters",
        "maxLength": f"{title} must be {value} characters or fewer",
        "enum": f"Select a valid option for {title.lower()}",
        "const": f"Select a valid option for {title.lower()}",
        "oneOf": f"Select a valid option for {title.lower()}",
        "type": f"{title} is not in the right format",
        "format": f"{title} must be a real date"
        if value == "date"
        else f"{title} is not in the right format",
        "minItems": f"Select at least {value} for {title.lower()}",
        "additionalProperties": "The form contained fields it does not have",
    }
    return field, messages.get(str(error.validator), f"{title}: {error.message}")


_VALIDATORS: dict[int, tuple[Mapping[str, Any], Draft202012Validator]] = {}


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    # Schemas come from compiled pathways, which live as long as the process: build each
    # validator once. The schema is kept beside it so its id() is never reused meanwhile.
    cached = _VALIDATORS.get(id(schema))
    if cached is None or cached[0] is not schema:
        if len(_VALIDATORS) > 512:
            _VALIDATORS.clear()
        cached = (schema, Draft202012Validator(schema, format_checker=_FORMATS))
        _VALIDATORS[id(schema)] = cached
    return cached[1]


def validate_submission(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, str]:
    """Return {field: message} for everything wrong with ``data``; empty when it is valid."""
    validator = _validator(schema)
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(dict(data)), key=lambda e: list(e.path)):
        field, message = _message(schema, error)
        errors.setdefault(field, message)
    order = list(schema.get("properties", {}))
    return dict(sorted(errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))
