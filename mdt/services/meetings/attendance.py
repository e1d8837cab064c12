"""Who is at the meeting: members and guests, apologies, quoracy, and when it opens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    AttendanceModel,
    MeetingModel,
    MeetingStatus,
    UserModel,
)
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import (
    ConflictError,
    InvalidInputError,
)
from mdt.services.meetings.base import (
    check_version,
    commit,
    get_meeting,
    require_coordinator,
    touch,
)
from mdt.services.settings import setting


def core_disciplines() -> tuple[str, ...]:
    return tuple(setting("MDT_CORE_DISCIPLINES"))  # type: ignore[arg-type]


def attendees(meeting: MeetingModel) -> list[AttendanceModel]:
    """Those recorded as present or sending apologies (not those removed as a mistake)."""
    return [a for a in meeting.attendance if a.removed_at is None]


def missing_disciplines(meeting: MeetingModel) -> list[str]:
    present = {a.discipline.lower() for a in attendees(meeting) if a.present}
    return [d for d in core_disciplines() if d.lower() not in present]


def members() -> list[UserModel]:
    """The MDT's members: active accounts with a discipline (set by an administrator)."""
    return list(
        db.session.scalars(
            select(UserModel)
            .where(
                UserModel.active.is_(True),
                UserModel.discipline.is_not(None),
                UserModel.discipline != "",
            )
            .order_by(UserModel.discipline, UserModel.display_name)
        )
    )


def record_member_present(
    actor: Actor, meeting_id: int, user_id: int, seen_version: int | None
) -> None:
    user = db.session.get(UserModel, user_id)
    if user is None or not user.discipline:
        raise InvalidInputError({"user_id": "Select a member of the MDT"})
    record_attendance(
        actor, meeting_id, user.display_name, user.discipline, True, seen_version, user_id=user.id
    )


def record_attendance(
    actor: Actor,
    meeting_id: int,
    name: str,
    discipline: str,
    present: bool,
    seen_version: int | None,
    user_id: int | None = None,
) -> None:
    require_coordinator(actor)
    meeting = get_meeting(meeting_id)
    check_version(meeting, seen_version)
    if present:  # apologies come before a meeting; presence only once it has begun
        require_started(meeting, "attendance can be recorded")
    errors = {}
    if not name.strip():
        errors["name"] = "Enter the attendee's name"
    if not discipline.strip():
        errors["discipline"] = "Select the attendee's discipline"
    if errors:
        raise InvalidInputError(errors)
    row = next((a for a in meeting.attendance if a.name.lower() == name.strip().lower()), None)
    if row is None:
        row = AttendanceModel(
            meeting=meeting, name=name.strip(), discipline=discipline.strip(), user_id=user_id
        )
        db.session.add(row)
    row.present, row.removed_at = present, None
    touch(meeting)
    record_event(
        actor,
        "meeting.attendance",
        object_type="meeting",
        object_id=meeting.id,
        detail={"name": row.name, "discipline": row.discipline, "present": present},
    )
    commit()


def opens_at(meeting: MeetingModel) -> datetime:
    """When outcomes and attendance can first be recorded: the start, less a tolerance."""
    early = int(setting("MDT_MEETING_EARLY_MINUTES"))  # type: ignore[call-overload]
    return meeting.starts_at - timedelta(minutes=early)


def require_started(meeting: MeetingModel, what: str, at: datetime | None = None) -> None:
    at = at or opens_at(meeting)
    if clock.now() < at:
        when = at.astimezone(LONDON)
        raise InvalidInputError(
            {"meeting": f"The meeting has not started: {what} from {when:%H:%M} on "
             f"{when:%A} {when.day} {when:%B %Y}."}
        )  # fmt: skip


def remove_attendee(
    actor: Actor, meeting_id: int, attendance_id: int, seen_version: int | None
) -> None:
    """Someone recorded by mistake: no longer counted or shown (kept, and audited)."""
    require_coordinator(actor)
    meeting = get_meeting(meeting_id)
    check_version(meeting, seen_version)
    if meeting.status in (MeetingStatus.CLOSED, MeetingStatus.CANCELLED):
        raise ConflictError(f"The meeting is {meeting.status}: its attendance is final.")
    row = next((a for a in attendees(meeting) if a.id == attendance_id), None)
    if row is None:
        raise ConflictError("This person is no longer on the attendance list.")
    row.removed_at = clock.now()
    touch(meeting)
    record_event(
        actor,
        "meeting.attendee_removed",
        object_type="meeting",
        object_id=meeting.id,
        detail={"name": row.name, "discipline": row.discipline},
    )
    commit()
