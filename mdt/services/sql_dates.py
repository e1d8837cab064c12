"""Date arithmetic in SQL that reads the same on SQLite and PostgreSQL.

Reports aggregate in the database; these few expressions are the only place that knows how
each dialect subtracts timestamps or names a month.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, cast, func, literal
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from mdt.extensions import db
from mdt.models.types import UTCDateTime

Expr = ColumnElement[Any] | QueryableAttribute[Any]


def _postgres() -> bool:
    return bool(db.session.get_bind().dialect.name == "postgresql")


def as_timestamp(text: Expr) -> Expr:
    """A date (a Date column, or ISO text) as a timestamp at midnight UTC."""
    if _postgres():
        return func.timezone("UTC", cast(text, DateTime()))
    # SQLite: the text SQLAlchemy stores for timestamps, so that comparisons with stored
    # timestamps (which are text) order correctly.
    return func.strftime("%Y-%m-%d %H:%M:%S.000000", text)


def at(moment: datetime) -> ColumnElement[Any]:
    return literal(moment, UTCDateTime)


def days_between(start: Expr, end: Expr) -> ColumnElement[Any]:
    """Days (with fractions) from start to end."""
    return day_number(end) - day_number(start)


def day_number(moment: Expr) -> ColumnElement[Any]:
    """A timestamp as days since 1970-01-01 UTC, with fractions (the same on both dialects).
    Reports store or compute it once per row and then compare plain numbers, which is much
    cheaper than parsing timestamps in every comparison."""
    if _postgres():
        return cast(func.extract("epoch", moment), Float) / 86400.0
    return func.julianday(moment) - _UNIX_EPOCH_JULIAN_DAY


def day_number_at(moment: datetime) -> float:
    """`day_number` of a Python datetime."""
    return moment.timestamp() / 86400.0


_UNIX_EPOCH_JULIAN_DAY = 2440587.5


def month_of(moment: Expr) -> ColumnElement[str]:
    """'YYYY-MM' of a timestamp (UTC)."""
    if _postgres():
        # In UTC whatever the session's time zone (timestamps are stored with zones).
        return func.to_char(func.timezone("UTC", moment), "YYYY-MM")
    return func.strftime("%Y-%m", moment)


def week_of(moment: Expr) -> ColumnElement[str]:
    """The Monday that starts the week of a timestamp, as 'YYYY-MM-DD' (UTC)."""
    if _postgres():
        return func.to_char(func.date_trunc("week", func.timezone("UTC", moment)), "YYYY-MM-DD")
    return func.date(moment, "weekday 0", "-6 days")
