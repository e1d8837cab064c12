"""Meetings in the diary: recurring series and their next meeting."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    MeetingModel,
    MeetingSeriesModel,
)
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.calendar import previous_working_day
from mdt.services.errors import (
    InvalidInputError,
    NotFoundError,
)
from mdt.services.meetings.base import require_coordinator
from mdt.services.pathways import closures
from mdt.services.settings import setting


def cut_off_for(starts_at: datetime) -> datetime:
    """The list's cut-off: by default noon on the working day before the meeting (London
    time); MDT_LIST_CUT_OFF_TIME and MDT_LIST_CUT_OFF_WORKING_DAYS change it."""
    day = starts_at.astimezone(LONDON).date()
    for _ in range(int(setting("MDT_LIST_CUT_OFF_WORKING_DAYS"))):  # type: ignore[call-overload]
        day = previous_working_day(day, closures())
    at = time.fromisoformat(str(setting("MDT_LIST_CUT_OFF_TIME")))
    return datetime.combine(day, at, tzinfo=LONDON)


def list_meetings() -> list[MeetingModel]:
    return list(db.session.scalars(select(MeetingModel).order_by(MeetingModel.starts_at.desc())))


def list_series() -> list[MeetingSeriesModel]:
    return list(db.session.scalars(select(MeetingSeriesModel).order_by(MeetingSeriesModel.name)))


def create_series(
    actor: Actor,
    name: str,
    weekday: int,
    start_time: str,
    location: str,
    duration_minutes: int = 90,
) -> MeetingSeriesModel:
    require_coordinator(actor)
    errors = {}
    if not name.strip():
        errors["name"] = "Enter a name for the meeting"
    if weekday not in range(7):
        errors["weekday"] = "Select the day of the week"
    try:
        time.fromisoformat(start_time)
    except ValueError:
        errors["start_time"] = "Enter the start time as hours and minutes, like 13:30"
    if errors:
        raise InvalidInputError(errors)
    series = MeetingSeriesModel(
        name=name.strip(),
        weekday=weekday,
        start_time=start_time,
        location=location.strip(),
        duration_minutes=duration_minutes,
    )
    db.session.add(series)
    db.session.flush()
    record_event(
        actor,
        "meeting.series_created",
        object_type="meeting_series",
        object_id=series.id,
        detail={"name": series.name},
    )
    db.session.commit()
    return series


def schedule_next(actor: Actor, series_id: int, after: datetime | None = None) -> MeetingModel:
    """The series' next meeting after ``after`` (default now), created if it does not exist."""
    require_coordinator(actor)
    series = db.session.get(MeetingSeriesModel, series_id)
    if series is None:
        raise NotFoundError("No such meeting series")
    meeting = next_meeting(series, after or clock.now())
    db.session.commit()
    return meeting


def next_meeting(series: MeetingSeriesModel, after: datetime) -> MeetingModel:
    local = after.astimezone(LONDON)
    day = local.date()
    start = time.fromisoformat(series.start_time)
    while day.weekday() != series.weekday or datetime.combine(day, start, LONDON) <= local:
        day += timedelta(days=1)
    starts_at = datetime.combine(day, start, tzinfo=LONDON)
    existing = db.session.scalar(
        select(MeetingModel).where(
            MeetingModel.series_id == series.id, MeetingModel.starts_at == starts_at
        )
    )
    if existing is not None:
        return existing
    meeting = MeetingModel(
        series_id=series.id,
        title=series.name,
        starts_at=starts_at,
        duration_minutes=series.duration_minutes,
        location=series.location,
        cut_off_at=cut_off_for(starts_at),
    )
    db.session.add(meeting)
    db.session.flush()
    return meeting
