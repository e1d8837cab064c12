"""Text taken from diagrams (instructions, documentation) rendered in sandboxed Jinja."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(autoescape=False)  # output is escaped by the page


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    return _ENV.from_string(source)


def check_template(source: str) -> str | None:
    """Return why ``source`` is not a valid template, or None."""
    try:
        _compiled(source)
    except TemplateError as error:
        return str(error)
    return None


def render_text(source: str, data: Mapping[str, Any]) -> str:
    """Render diagram text with task data; on any error show the text as written."""
    try:
        return str(_compiled(source).render(**data))
    except Exception:  # a bad template must never stop a clinician seeing their task
        return source
