"""Meetings in the diary: recurring series and their next meeting."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    ListingStatus,
    MeetingModel,
    MeetingSeriesModel,
    MeetingStatus,
)
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.calendar import previous_working_day
from mdt.services.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from mdt.services.meetings.base import check_version, commit, get_meeting, require_coordinator
from mdt.services.meetings.lists import new_listing
from mdt.services.notifications import tell_role
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


def parse_start(day: str, at: str) -> tuple[datetime | None, dict[str, str]]:
    """A meeting's start from the date and time typed (London time), or the errors."""
    errors: dict[str, str] = {}
    parsed_day = parsed_time = None
    text = day.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            parsed_day = datetime.strptime(text, pattern).date()
            break
        except ValueError:
            continue
    if parsed_day is None:
        errors["day"] = "Enter the date of the meeting, for example 3/12/2026"
    try:
        parsed_time = time.fromisoformat(at.strip())
    except ValueError:
        errors["start_time"] = "Enter the start time as hours and minutes, like 13:30"
    if errors or parsed_day is None or parsed_time is None:
        return None, errors
    starts_at = datetime.combine(parsed_day, parsed_time, tzinfo=LONDON)
    if starts_at <= clock.now():
        return None, {"day": "The meeting must start in the future"}
    return starts_at, {}


def create_meeting(
    actor: Actor, title: str, day: str, at: str, location: str, reason: str
) -> MeetingModel:
    """An extra meeting outside the regular series, for example an urgent review."""
    require_coordinator(actor)
    starts_at, errors = parse_start(day, at)
    if not title.strip():
        errors["title"] = "Enter a name for the meeting"
    if not reason.strip():
        errors["reason"] = "Say why this extra meeting is needed"
    if errors or starts_at is None:
        raise InvalidInputError(errors)
    meeting = MeetingModel(
        title=title.strip(),
        starts_at=starts_at,
        location=location.strip(),
        cut_off_at=cut_off_for(starts_at),
    )
    db.session.add(meeting)
    db.session.flush()
    record_event(
        actor,
        "meeting.created",
        object_type="meeting",
        object_id=meeting.id,
        detail={"title": meeting.title, "starts_at": starts_at.isoformat(), "reason": reason},
    )
    db.session.commit()
    return meeting


def upcoming_open(exclude: int | None = None) -> list[MeetingModel]:
    """Meetings still to come whose list is open: where a cancelled meeting's list can go."""
    return list(
        db.session.scalars(
            select(MeetingModel)
            .where(
                MeetingModel.status == MeetingStatus.PLANNED,
                MeetingModel.starts_at > clock.now(),
                MeetingModel.id != (exclude or 0),
            )
            .order_by(MeetingModel.starts_at)
        )
    )


def _not_yet_held(meeting: MeetingModel, what: str) -> None:
    if meeting.status in (MeetingStatus.CLOSED, MeetingStatus.CANCELLED):
        raise ConflictError(f"This meeting is {meeting.status}: it cannot be {what}.")
    if any(item.status == ListingStatus.CONFIRMED for item in meeting.listings):
        raise ConflictError(
            f"Outcomes have been confirmed at this meeting, so it was held: it cannot be "
            f"{what}. Close it instead."
        )


def move_meeting(
    actor: Actor, meeting_id: int, day: str, at: str, reason: str, seen_version: int | None
) -> MeetingModel:
    """Hold the meeting at another time: its list, attendance and circulation go with it."""
    require_coordinator(actor)
    meeting = get_meeting(meeting_id)
    check_version(meeting, seen_version)
    _not_yet_held(meeting, "moved")
    starts_at, errors = parse_start(day, at)
    if not reason.strip():
        errors["reason"] = "Say why the meeting is moving"
    if errors or starts_at is None:
        raise InvalidInputError(errors)
    was = meeting.starts_at
    meeting.starts_at, meeting.cut_off_at = starts_at, cut_off_for(starts_at)
    record_event(
        actor,
        "meeting.moved",
        object_type="meeting",
        object_id=meeting.id,
        detail={"from": was.isoformat(), "to": starts_at.isoformat(), "reason": reason},
    )
    _tell_listed(actor, meeting, f"moved to {starts_at.astimezone(LONDON):%-d %B %Y at %H:%M}")
    commit()
    return meeting


def cancel_meeting(
    actor: Actor,
    meeting_id: int,
    reason: str,
    to_meeting_id: int | None,
    seen_version: int | None,
) -> MeetingModel | None:
    """Cancel the meeting; its list moves to ``to_meeting_id`` (an open meeting still to come)
    or, by default, the series' next meeting. Returns where the list went."""
    require_coordinator(actor)
    meeting = get_meeting(meeting_id)
    check_version(meeting, seen_version)
    _not_yet_held(meeting, "cancelled")
    if not reason.strip():
        raise InvalidInputError({"reason": "Say why the meeting is cancelled"})
    listed = [item for item in meeting.listings if item.status == ListingStatus.LISTED]
    target = _target(meeting, to_meeting_id) if listed else None
    for item in listed:
        item.status = ListingStatus.ROLLED_OVER
        if target is not None:
            new_listing(target, item.task, item.kind, actor.user_id, False, None, item.id)
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancelled_at, meeting.cancelled_reason = clock.now(), reason.strip()
    record_event(
        actor,
        "meeting.cancelled",
        object_type="meeting",
        object_id=meeting.id,
        detail={"reason": reason, "moved": len(listed), "to_meeting": target and target.id},
    )
    commit()
    return target


def _target(meeting: MeetingModel, to_meeting_id: int | None) -> MeetingModel:
    if to_meeting_id:
        target = get_meeting(to_meeting_id)
        if target.id == meeting.id or target not in upcoming_open():
            raise InvalidInputError(
                {"to_meeting_id": "Choose a meeting still to come whose list is open"}
            )
        return target
    if meeting.series is None:
        raise InvalidInputError({"to_meeting_id": "Choose the meeting the list moves to"})
    return next_meeting(meeting.series, meeting.starts_at + timedelta(minutes=1))


def _tell_listed(actor: Actor, meeting: MeetingModel, what: str) -> None:
    """A circulated list is in people's hands: the coordinators are reminded to tell them."""
    if meeting.circulated_at is None:
        return
    tell_role(
        Role.COORDINATOR,
        "meeting_moved",
        f"{meeting.title} {what}. The list was circulated: tell those who have it.",
        patient_id=None,
        subject=("meeting", meeting.id),
        now=clock.now(),
        actor=actor,
    )
