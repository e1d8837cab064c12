"""Time comes from one seam, and the calendar is right at the awkward instants."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from mdt import clock as app_clock
from mdt.clock import LONDON
from mdt.services.calendar import add_working_days
from workflows.clock import run_at, run_now
from workflows.sandbox import default_helpers

from .timing import INSTANTS, at

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

ROOT = Path(__file__).resolve().parent.parent
# Reads of the wall clock. The engine's own default (workflows/clock.py) and the app's seam
# (mdt/clock.py) are the only places allowed; benchmarks time themselves.
WALL_CLOCK = re.compile(
    r"datetime\.(?:now|utcnow|today)\(|date\.today\(|time\.time\(\)|time\.localtime\(|"
    r"\butcnow\(\)"
)
ALLOWED = {Path("mdt/clock.py"), Path("workflows/clock.py")}


def test_nothing_reads_the_wall_clock_outside_the_seam() -> None:
    offenders = []
    for package in ("mdt", "workflows"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative in ALLOWED or "benchmarks" in relative.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if WALL_CLOCK.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "read the time from mdt.clock (or the engine's run_now):\n" + "\n".join(
        offenders
    )


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59), tzinfo=LONDON)


# Worked out on a calendar, not by the function under test.
@pytest.mark.parametrize(
    ("instant", "days", "due"),
    [
        ("Tuesday 09:30", 0, date(2026, 11, 24)),
        ("Tuesday 09:30", 1, date(2026, 11, 25)),
        ("Tuesday 09:30", 5, date(2026, 12, 1)),
        ("Friday 17:30", 0, date(2026, 11, 27)),  # still Friday: end of today
        ("Friday 17:30", 1, date(2026, 11, 30)),  # across the weekend
        ("Friday 17:30", 2, date(2026, 12, 1)),
        ("Saturday 11:00", 0, date(2026, 11, 30)),  # the next working day
        ("Saturday 11:00", 1, date(2026, 11, 30)),  # the first working day after Saturday
        ("Saturday 11:00", 2, date(2026, 12, 1)),
        ("bank holiday Monday 28 December", 0, date(2026, 12, 29)),
        ("bank holiday Monday 28 December", 1, date(2026, 12, 29)),
        ("bank holiday Monday 28 December", 3, date(2026, 12, 31)),
        ("bank holiday Monday 28 December", 4, date(2027, 1, 4)),  # New Year's Day, weekend
        # 28 March 2027 is also Easter Sunday: Monday 29 is Easter Monday.
        ("clocks go forward 01:30", 0, date(2027, 3, 30)),
        ("clocks go forward 01:30", 1, date(2027, 3, 30)),
        ("clocks go forward 01:30", 10, date(2027, 4, 12)),
        ("New Year's Eve 23:59", 0, date(2026, 12, 31)),
        ("New Year's Eve 23:59", 1, date(2027, 1, 4)),
    ],
)
def test_due_dates_at_the_awkward_instants(instant: str, days: int, due: date) -> None:
    assert add_working_days(INSTANTS[instant], days) == _end_of(due)


def test_the_end_of_a_working_day_is_local_across_the_clock_change() -> None:
    # 23:59 on Tuesday 30 March 2027 is BST: 22:59 UTC.
    due = add_working_days(INSTANTS["clocks go forward 01:30"], 1)
    assert due.astimezone(UTC) == datetime(2027, 3, 30, 22, 59, tzinfo=UTC)


def test_today_is_the_london_date() -> None:
    # 00:30 BST on 1 June is still 31 May in UTC.
    with at(datetime(2027, 5, 31, 23, 30, tzinfo=UTC)):
        assert app_clock.today() == date(2027, 6, 1)
        assert app_clock.now() == datetime(2027, 5, 31, 23, 30, tzinfo=UTC)


def test_the_engine_runs_at_the_instant_it_is_given() -> None:
    today = default_helpers()["today"]
    midnight_bst = datetime(2027, 6, 1, 0, 30, tzinfo=LONDON)
    with run_at(midnight_bst):
        assert today() == "2027-06-01"
        assert run_now() == midnight_bst
        with run_at(midnight_bst + timedelta(days=3)):  # one run: one instant
            assert run_now() == midnight_bst
    with at(datetime(2030, 1, 2, 12, tzinfo=UTC)):
        assert run_now() == datetime(2030, 1, 2, 12, tzinfo=UTC)  # outside a run: the clock


def test_age_on_counts_whole_years() -> None:
    age_on = default_helpers()["age_on"]
    assert age_on("1960-06-15", "2026-06-14") == 65
    assert age_on("1960-06-15", "2026-06-15") == 66
    assert age_on("1964-02-29", "2027-02-28") == 62
    assert age_on("1964-02-29", "2027-03-01") == 63
