"""The one place the application reads the time.

Everything that needs "now" or "today" (services, models' default timestamps, the scheduler,
the reports, the engine's timers and sandbox helpers) asks here, so a test can set the instant
it runs at (freezegun moves this clock, and so SpiffWorkflow's timers through the engine's
clock argument) and nothing depends on the day the suite happens to run. Dates that staff see
and that the standards count in are London dates: the NHS in England works in local time, and
"today" at 00:30 BST is not UTC's yesterday.

A test (tests/test_clock.py) refuses any other read of the wall clock in mdt/ and workflows/.

`replaying_at` sets the instant for one block of code in this thread: the demo uses it to
play its patients' histories at the days they happened (so their tasks, timers and entries
are dated as they would have been), never a request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
_REPLAYING: ContextVar[datetime | None] = ContextVar("mdt_clock_replaying", default=None)


def now() -> datetime:
    """This instant, timezone-aware UTC (what is stored)."""
    replaying = _REPLAYING.get()
    return replaying if replaying is not None else datetime.now(UTC)


@contextmanager
def replaying_at(instant: datetime) -> Iterator[None]:
    """Within the block, now() is ``instant`` (timezone-aware)."""
    token = _REPLAYING.set(instant.astimezone(UTC))
    try:
        yield
    finally:
        _REPLAYING.reset(token)


def local_now() -> datetime:
    """This instant in London (what staff see, and what working days count in)."""
    return now().astimezone(LONDON)


def today() -> date:
    """Today's date in London."""
    return local_now().date()
