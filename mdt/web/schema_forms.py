"""Task forms from JSON Schema: fields to render with NHS.UK components, and form posts
turned back into typed data. Validation itself is the service's (the API shares it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from werkzeug.datastructures import MultiDict

from mdt import clock
from mdt.services.form_labels import answer_label, field_title
from mdt.services.form_validation import (
    USER_ROLE,
    DateContext,
    number_problem,
    role_holder_names,
    shown_if,
    split_hidden,
    validate_submission,
)
from mdt.services.form_validation import option_value as _option_value
from mdt.services.patient_identity import nhs_digits

RADIO_LIMIT = 7


@dataclass
class Field:
    name: str
    title: str
    hint: str
    widget: str  # text, textarea, integer, number, date, radios, select, checkboxes, boolean
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    error: str | None = None
    required: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)
    # Fields revealed under one of this field's options (NHS.UK conditional reveal).
    conditional: dict[str, list[Field]] = field(default_factory=dict)


def _options(prop: Mapping[str, Any]) -> list[tuple[str, str]]:
    if "oneOf" in prop:
        return [(str(o["const"]), str(o.get("title", o["const"]))) for o in prop["oneOf"]]
    if "enum" in prop:
        return [(str(v), str(v)) for v in prop["enum"]]
    return []


def widget_for(prop: Mapping[str, Any]) -> str:
    explicit = prop.get("x-widget")
    if explicit:
        return str(explicit)
    kind = prop.get("type")
    if kind == "boolean":
        return "boolean"
    if kind == "array":
        return "checkboxes"
    if _options(prop):
        return "radios" if len(_options(prop)) <= RADIO_LIMIT else "select"
    if prop.get(USER_ROLE):
        return "select"
    if kind == "string" and prop.get("format") == "date":
        return "date"
    if kind in ("integer", "number"):
        return str(kind)
    if kind == "string" and int(prop.get("maxLength", 0)) > 200:
        return "textarea"
    return "text"


def build_fields(
    schema: Mapping[str, Any], values: Mapping[str, Any], errors: Mapping[str, str]
) -> list[Field]:
    """The form's fields, top level first. A field asked only after one answer of a radio
    question sits under that answer (the NHS.UK conditional reveal); one revealed by several
    answers, or by another kind of question, follows it and is shown or hidden by
    app.mjs (``reveal``). Fields an answer makes required are not marked optional."""
    required = set(schema.get("required", [])) | _required_when_revealed(schema)
    by_name: dict[str, Field] = {}
    for name, prop in schema.get("properties", {}).items():
        widget = widget_for(prop)
        options = _options(prop.get("items", {})) if widget == "checkboxes" else _options(prop)
        if widget == "boolean":
            options = [("yes", "Yes"), ("no", "No")]
        if prop.get(USER_ROLE):
            options = _people(str(prop[USER_ROLE]), values.get(name))
        attrs = {k: prop[k] for k in ("minimum", "maximum", "maxLength") if k in prop}
        by_name[name] = Field(
            name,
            str(prop.get("title", name)),
            str(prop.get("description", "")),
            widget,
            options,
            _display_value(widget, values.get(name)),
            errors.get(name),
            name in required,
            attrs,
        )
    fields = []
    for name, prop in schema.get("properties", {}).items():
        rule = shown_if(prop)
        controller = by_name.get(rule[0]) if rule else None
        if rule and controller and controller.widget in ("radios", "boolean") and len(rule[1]) == 1:
            controller.conditional.setdefault(rule[1][0], []).append(by_name[name])
            continue
        if rule:
            by_name[name].attrs["reveal"] = {"field": rule[0], "values": " ".join(rule[1])}
        fields.append(by_name[name])
    return fields


def _people(role: str, current: Any) -> list[tuple[str, str]]:
    """The active holders of ``role`` by display name; an answer given earlier whose account
    is no longer active stays visible, marked, so nobody is changed without seeing it."""
    names = role_holder_names(role)
    people = [(name, name) for name in names]
    if isinstance(current, str) and current and current not in names:
        people.insert(0, (current, f"{current} (no longer active)"))
    return people


def _required_when_revealed(schema: Mapping[str, Any]) -> set[str]:
    return {
        name
        for rule in schema.get("allOf", [])
        for name in rule.get("then", {}).get("required", [])
    }


def _display_value(widget: str, value: Any) -> Any:
    if widget == "boolean" and isinstance(value, bool):
        return "yes" if value else "no"
    if widget == "date" and isinstance(value, str) and value.count("-") == 2:
        year, month, day = value.split("-")
        return {"day": day.lstrip("0"), "month": month.lstrip("0"), "year": year}
    if widget == "checkboxes":
        return [str(v) for v in value or []]
    return "" if value is None else value


def _coerce_option(prop: Mapping[str, Any], raw: str) -> Any:
    for option in prop.get("oneOf", []):
        if str(option["const"]) == raw:
            return option["const"]
    for value in prop.get("enum", []):
        if str(value) == raw:
            return value
    return raw


def _parse_one(
    name: str, prop: Mapping[str, Any], form: MultiDict[str, str]
) -> tuple[Any, Any, str | None]:
    """(value or None when empty, raw for re-display, error)"""
    widget = widget_for(prop)
    title = str(prop.get("title", name)).rstrip("?")
    if widget == "checkboxes":
        chosen = form.getlist(name)
        items = prop.get("items", {})
        return [_coerce_option(items, v) for v in chosen] if chosen else None, chosen, None
    if widget == "date":
        parts = {part: form.get(f"{name}-{part}", "").strip() for part in ("day", "month", "year")}
        value, error = _parse_date(title, parts)
        return value, parts, error
    raw = form.get(name, "").strip()
    if raw == "":
        return None, raw, None
    if widget == "boolean":
        return {"yes": True, "no": False}.get(raw), raw, None
    if _options(prop):
        return _coerce_option(prop, raw), raw, None
    if widget in ("integer", "number"):
        number, problem = _parse_number(title, raw, widget == "integer")
        return number, raw, problem
    if prop.get("format") == "nhs-number":
        digits = nhs_digits(raw)
        return (digits if digits.isdigit() else raw), raw, None
    return raw, raw, None


def _parse_date(title: str, parts: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(YYYY-MM-DD or None, the problem), saying what is missing as the NHS pattern does."""
    if not any(parts.values()):
        return None, None
    missing = [part for part in ("day", "month", "year") if not parts[part]]
    if missing:
        return None, f"{title} must include a {' and '.join(missing)}"
    if not all(parts[part].isascii() and parts[part].isdigit() for part in parts):
        return None, f"{title} must be a real date"
    if len(parts["year"]) != 4:
        return None, f"{title} must include a year with 4 numbers, like 2025"
    try:
        day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        return None, f"{title} must be a real date"
    return day.isoformat(), None


# A number typed longer than this is not a number anyone measured.
_LONGEST_NUMBER = 30


def _parse_number(title: str, raw: str, whole: bool) -> tuple[int | float | None, str | None]:
    """A typed number, or why not: NaN, infinities and numbers too long to hold are refused
    (never stored: NaN compares false with everything and would route a patient wrongly)."""
    if len(raw) > _LONGEST_NUMBER:
        return None, f"{title} is too long: enter a number with 15 digits or fewer"
    try:
        value: int | float = int(raw) if whole else float(raw)
    except ValueError:
        return None, f"{title} must be {'a whole number' if whole else 'a number'}"
    problem = number_problem(title, value)
    return (None, problem) if problem else (value, None)


def parse_submission(
    schema: Mapping[str, Any], form: MultiDict[str, str], dates: DateContext | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Turn a form post into (data, raw values to re-display, errors). When something could
    not be read, the errors are every problem of the submission, not only those: ``dates`` is
    what clinical dates are checked against (today, without an index date, by default)."""
    data: dict[str, Any] = {}
    raw_values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, prop in schema.get("properties", {}).items():
        value, raw, error = _parse_one(name, prop, form)
        raw_values[name] = raw
        if error:
            errors[name] = error
        elif value is not None:
            data[name] = value
    # A revealed question whose revealing answer was changed afterwards was not asked: no
    # error for it; its answer is dropped by the service, which says so.
    for name, prop in schema.get("properties", {}).items():
        rule = shown_if(prop)
        if rule and _option_value(data.get(rule[0])) not in rule[1]:
            errors.pop(name, None)
    if errors:
        # Every problem at once: what could be read is checked as the service would (a
        # required answer left empty, a number out of range), beside what could not be read.
        kept = split_hidden(schema, data)[0]
        checked = validate_submission(schema, kept, dates or DateContext(today=clock.today()))
        for name, message in checked.items():
            errors.setdefault(name, message)
        order = list(schema.get("properties", {}))
        errors = dict(
            sorted(errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)
        )
    return data, raw_values, errors


def describe(schema: Mapping[str, Any], data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Submitted data as (question, answer) rows for a read-only summary list."""
    return [
        (field_title(dict(schema), name), answer_label(dict(schema), name, data[name]))
        for name in schema.get("properties", {})
        if name in data
    ]


def not_kept_note(titles: list[str]) -> str:
    """What the success banner adds when answers to questions that were not asked (hidden by
    another answer) were given and dropped: nothing is lost without saying so."""
    if not titles:
        return ""
    return (
        " Not kept, because your other answers meant they were not asked: "
        + ", ".join(titles)
        + "."
    )
