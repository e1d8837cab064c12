"""Plain records the facade hands out; callers never hold a Spiff object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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


@dataclass(frozen=True)
class PendingTimer:
    """A timer the instance waits on; ``due_at`` is timezone-aware UTC."""

    event_name: str
    due_at: datetime
