"""Answers as people read them: option titles instead of codes, dates written out."""

from __future__ import annotations

from datetime import date
from typing import Any


def field_title(schema: dict[str, Any], name: str) -> str:
    prop = schema.get("properties", {}).get(name, {})
    return str(prop.get("title") or name.replace("_", " ").capitalize())


def answer_label(schema: dict[str, Any], name: str, value: Any) -> str:
    prop = schema.get("properties", {}).get(name, {})
    options = prop.get("items", prop)
    labels = {str(o["const"]): str(o.get("title", o["const"])) for o in options.get("oneOf", [])}
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value)
    if prop.get("format") == "date" and isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        return f"{day.day} {day:%B %Y}"
    return labels.get(str(value), str(value))
