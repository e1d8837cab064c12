"""Working days in England: weekends and England and Wales bank holidays are skipped."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from mdt.clock import LONDON


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date, closures: Iterable[date] = ()) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year) and day not in set(closures)


def previous_working_day(day: date, closures: Iterable[date] = ()) -> date:
    closed = set(closures)
    day -= timedelta(days=1)
    while not is_working_day(day, closed):
        day -= timedelta(days=1)
    return day


def add_working_days(start: datetime, days: int, closures: Iterable[date] = ()) -> datetime:
    """The end (23:59 London time) of the ``days``-th working day after ``start``.

    Zero days means the end of today, or of the next working day if today is not one.
    """
    closed = set(closures)
    day = start.astimezone(LONDON).date()
    remaining = days
    while remaining > 0 or not is_working_day(day, closed):
        day += timedelta(days=1)
        if is_working_day(day, closed):
            remaining -= 1
        if remaining < 0:
            break
    return datetime.combine(day, time(23, 59), tzinfo=LONDON)
