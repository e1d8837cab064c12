"""The one place the application reads the time.

Everything that needs "now" or "today" (services, models' default timestamps, the scheduler,
the reports, the engine's timers and sandbox helpers) asks here, so a test can set the instant
it runs at (freezegun moves this clock, and so SpiffWorkflow's timers through the engine's
clock argument) and nothing depends on the day the suite happens to run. Dates that staff see
and that the standards count in are London dates: the NHS in England works in local time, and
"today" at 00:30 BST is not UTC's yesterday.

A test (tests/test_clock.py) refuses any other read of the wall clock in mdt/ and workflows/.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def now() -> datetime:
    """This instant, timezone-aware UTC (what is stored)."""
    return datetime.now(UTC)


def local_now() -> datetime:
    """This instant in London (what staff see, and what working days count in)."""
    return now().astimezone(LONDON)


def today() -> date:
    """Today's date in London."""
    return local_now().date()
