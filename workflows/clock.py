"""The engine's time: one instant per run, given by the application.

The application hands each PathwayEngine a clock (a function returning an aware datetime).
Every engine operation (start, complete a task, deliver a message, fire timers) reads it
once and runs at that instant: timer expressions, SpiffWorkflow's "has this timer fired?"
test and the sandbox's ``today()`` all see the same moment, so a run cannot straddle
midnight, and a test that sets the application's clock moves the engine with it.

SpiffWorkflow's timer module asks ``datetime.now(timezone.utc)`` itself; ``install`` gives
that module a ``datetime`` whose ``now`` answers with the current run's instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

_RUN_NOW: ContextVar[datetime | None] = ContextVar("pathway_run_now", default=None)


def system_clock() -> datetime:
    """The wall clock, for engines built without one (engine tests, tools)."""
    return datetime.now(UTC)


@contextmanager
def run_at(now: datetime) -> Iterator[None]:
    """Run the engine work inside the block at ``now`` (nested runs keep the outer instant)."""
    if now.tzinfo is None:
        raise ValueError("The engine's clock must give timezone-aware datetimes")
    token = _RUN_NOW.set(_RUN_NOW.get() or now)
    try:
        yield
    finally:
        _RUN_NOW.reset(token)


def run_now() -> datetime:
    """The instant of the engine run in progress (the wall clock outside any run)."""
    return _RUN_NOW.get() or system_clock()


class _RunDatetime(datetime):
    """``datetime`` as SpiffWorkflow's timer module sees it: now() is the run's instant."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _RunDatetime:
        current = run_now()
        local = (
            current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)
        )
        return cls.combine(local.date(), local.timetz(), local.tzinfo)


def install() -> None:
    """Point SpiffWorkflow's timers at the run's instant (idempotent)."""
    spiff_timer.datetime = _RunDatetime


install()
