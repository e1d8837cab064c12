"""Task forms from JSON Schema: fields to render with NHS.UK components, and form posts
turned back into typed data. Validation itself is the service's (the API shares it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from werkzeug.datastructures import MultiDict

from mdt.services.form_labels import answer_label, field_title

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


def shown_if(prop: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """``x-show-if: {"field": "offer", "equals": "01"}`` (or ``"in": [...]``)."""
    rule = prop.get("x-show-if")
    if not rule:
        return None
    values = rule.get("in", [rule.get("equals")])
    return str(rule["field"]), [_option_value(v) for v in values]


def _option_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


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
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        widget = widget_for(prop)
        options = _options(prop.get("items", {})) if widget == "checkboxes" else _options(prop)
        if widget == "boolean":
            options = [("yes", "Yes"), ("no", "No")]
        attrs = {k: prop[k] for k in ("minimum", "maximum", "maxLength") if k in prop}
        fields.append(
            Field(
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
        )
    return fields


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
    title = str(prop.get("title", name))
    if widget == "checkboxes":
        chosen = form.getlist(name)
        items = prop.get("items", {})
        return [_coerce_option(items, v) for v in chosen] if chosen else None, chosen, None
    if widget == "date":
        parts = {part: form.get(f"{name}-{part}", "").strip() for part in ("day", "month", "year")}
        if not any(parts.values()):
            return None, parts, None
        try:
            day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
        except ValueError:
            return None, parts, f"{title} must be a real date"
        return day.isoformat(), parts, None
    raw = form.get(name, "").strip()
    if raw == "":
        return None, raw, None
    if widget == "boolean":
        return {"yes": True, "no": False}.get(raw), raw, None
    if _options(prop):
        return _coerce_option(prop, raw), raw, None
    if widget == "integer":
        try:
            return int(raw), raw, None
        except ValueError:
            return None, raw, f"{title} must be a whole number"
    if widget == "number":
        try:
            return float(raw), raw, None
        except ValueError:
            return None, raw, f"{title} must be a number"
    return raw, raw, None


def parse_submission(
    schema: Mapping[str, Any], form: MultiDict[str, str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Turn a form post into (data, raw values to re-display, errors found while parsing)."""
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
    # A revealed field whose revealing answer was changed afterwards is not kept.
    for name, prop in schema.get("properties", {}).items():
        rule = shown_if(prop)
        if rule and _option_value(data.get(rule[0])) not in rule[1]:
            data.pop(name, None)
            errors.pop(name, None)
    return data, raw_values, errors


def describe(schema: Mapping[str, Any], data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Submitted data as (question, answer) rows for a read-only summary list."""
    return [
        (field_title(dict(schema), name), answer_label(dict(schema), name, data[name]))
        for name in schema.get("properties", {})
        if name in data
    ]
