"""Answers turned back into a browser's form post, so the benchmark posts what a person would."""

from __future__ import annotations

from typing import Any


def form_post(schema: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    post: dict[str, Any] = {}
    for name, value in answers.items():
        prop = schema.get("properties", {}).get(name, {})
        if prop.get("format") == "date":
            year, month, day = str(value).split("-")
            post.update({f"{name}-day": day, f"{name}-month": month, f"{name}-year": year})
        elif isinstance(value, bool):
            post[name] = "yes" if value else "no"
        elif isinstance(value, list):
            post[name] = [str(v) for v in value]
        else:
            post[name] = str(value)
    return post
