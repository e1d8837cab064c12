"""The instants time-sensitive tests run at, and the fixture that sets the clock.

Every test whose outcome can depend on the date (due dates, timers, reports, scenarios) says
what time it is. Scenarios run from each instant below: the ones where a calendar bug shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import freezegun
import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from mdt.clock import LONDON

# Event loops (the test SMTP server, Playwright) schedule with time.monotonic: they keep the
# real clock, or a stopped clock would stop them.
freezegun.configure(extend_ignore_list=["asyncio", "aiosmtpd", "playwright"])

INSTANTS = {
    "Tuesday 09:30": datetime(2026, 11, 24, 9, 30, tzinfo=LONDON),
    # Due dates cross a weekend.
    "Friday 17:30": datetime(2026, 11, 27, 17, 30, tzinfo=LONDON),
    "Saturday 11:00": datetime(2026, 11, 28, 11, 0, tzinfo=LONDON),
    # The substitute Boxing Day bank holiday, between Christmas and New Year closures.
    "bank holiday Monday 28 December": datetime(2026, 12, 28, 10, 0, tzinfo=LONDON),
    # The night the clocks go forward: 01:30 London (GMT) becomes 02:30 BST at once.
    "clocks go forward 01:30": datetime(2027, 3, 28, 1, 30, tzinfo=LONDON),
    "New Year's Eve 23:59": datetime(2026, 12, 31, 23, 59, tzinfo=LONDON),
}
# One ordinary working moment for tests that need a fixed time and nothing special.
WORKING_MORNING = INSTANTS["Tuesday 09:30"]


@pytest.fixture
def clock() -> Iterator[FrozenDateTimeFactory]:
    """The clock stopped at an ordinary Tuesday morning; move it with ``clock.move_to(...)``
    or ``clock.tick(timedelta(...))``."""
    with freeze_time(WORKING_MORNING) as frozen:
        yield frozen


def at(instant: datetime) -> freeze_time:  # type: ignore[valid-type]
    """``with at(INSTANTS["Saturday 11:00"]) as clock:`` — the same, for one block."""
    return freeze_time(instant)
