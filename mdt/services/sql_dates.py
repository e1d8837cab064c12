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
    return cast(text, DateTime(timezone=True)) if _postgres() else text


def at(moment: datetime) -> ColumnElement[Any]:
    return literal(moment, UTCDateTime)


def days_between(start: Expr, end: Expr) -> ColumnElement[Any]:
    """Days (with fractions) from start to end."""
    if _postgres():
        return cast(func.extract("epoch", end - start), Float) / 86400.0
    return func.julianday(end) - func.julianday(start)


def month_of(moment: Expr) -> ColumnElement[str]:
    """'YYYY-MM' of a timestamp (UTC)."""
    if _postgres():
        return func.to_char(moment, "YYYY-MM")
    return func.strftime("%Y-%m", moment)


def week_of(moment: Expr) -> ColumnElement[str]:
    """The Monday that starts the week of a timestamp, as 'YYYY-MM-DD' (UTC)."""
    if _postgres():
        return func.to_char(func.date_trunc("week", moment), "YYYY-MM-DD")
    return func.date(moment, "weekday 0", "-6 days")
