"""Plain records the facade hands out; callers never hold a Spiff object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ReadyTask:
    """A human task waiting for someone, as the worklist needs it."""

    id: str
    bpmn_id: str
    name: str
    process_id: str
    lane: str | None
    role: str | None
    form: str | None
    standards: tuple[str, ...]
    due_working_days: int | None
    instructions: str
    properties: dict[str, str] = field(default_factory=dict)
    # bpmn ids of the call activities and subprocesses this task runs inside, outermost first
    call_path: tuple[str, ...] = ()
    # Top-level task data the application asked to see (the engine's ``context_keys``) and
    # what the task's ``showData`` property names: e.g. which episode the task belongs to.
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingTimer:
    """A timer the instance waits on; ``due_at`` is timezone-aware UTC."""

    event_name: str
    due_at: datetime


@dataclass(frozen=True)
class EventInfo:
    """A message the pathway accepts from outside, as its BPMN declares it: the form staff
    fill in to record it, and what it means (a new episode, or the end of care)."""

    name: str
    label: str
    hint: str
    form: str | None
    roles: tuple[str, ...]
    # A new episode of care of this kind starts (its clinical date is ``date_field``)...
    episode: str | None = None
    # ...or care ends for this reason (death, discharge, transfer) as of ``date_field``.
    closes: str | None = None
    date_field: str | None = None
