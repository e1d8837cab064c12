"""Text taken from diagrams (instructions, documentation) rendered in sandboxed Jinja.

Rendering is bounded: a template's own lines run under a deadline (a tracer on template
frames only, as the sandbox does for scripts), its output is cut to a length a page can show,
and with the engine workers on (``isolation.py``) it runs in a worker under the operating
system's limits too. A template that breaks any of this shows as written.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from functools import lru_cache
from types import FrameType
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(autoescape=False)  # output is escaped by the page
_TEMPLATE_FILENAME = "<template>"  # what Jinja names the code it compiles from a string
RENDER_SECONDS = 0.5
MAX_RENDERED_CHARS = 20_000


class _RenderTooSlow(Exception):
    pass


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


def render_text(source: str, data: Mapping[str, Any], seconds: float = RENDER_SECONDS) -> str:
    """Render diagram text with task data; on any error, or past ``seconds``, show the text
    as written."""
    try:
        template = _compiled(source)
        return _bounded(template, data, seconds)[:MAX_RENDERED_CHARS]
    except Exception:  # a bad template must never stop a clinician seeing their task
        return source


def _bounded(template: Any, data: Mapping[str, Any], seconds: float) -> str:
    deadline = time.monotonic() + seconds

    def local_trace(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise _RenderTooSlow
        return local_trace

    def global_trace(frame: FrameType, event: str, arg: Any) -> Any:
        return local_trace if frame.f_code.co_filename == _TEMPLATE_FILENAME else None

    previous = sys.gettrace()
    sys.settrace(global_trace)
    try:
        return str(template.render(**data))
    finally:
        sys.settrace(previous)
