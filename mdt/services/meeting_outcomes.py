"""In and after the meeting: attendance and quoracy, outcomes drafted live and confirmed
(completing each patient's MDT task), GP letters, closing with roll-over, and the KPIs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    AttendanceModel,
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    MeetingModel,
    MeetingStatus,
    TaskStatus,
    UserModel,
)
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.calendar import add_working_days
from mdt.services.errors import ConflictError, DomainError, InvalidInputError
from mdt.services.instances import complete_task
from mdt.services.meetings import (
    _check_version,
    _commit,
    _listing,
    _new_listing,
    _next_meeting,
    _require_coordinator,
    _touch,
    active_listings,
    get_meeting,
)
from mdt.services.pathways import closures, form_schema
from mdt.services.settings import setting


def core_disciplines() -> tuple[str, ...]:
    return tuple(setting("MDT_CORE_DISCIPLINES"))  # type: ignore[arg-type]


def missing_disciplines(meeting: MeetingModel) -> list[str]:
    present = {a.discipline.lower() for a in meeting.attendance if a.present}
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
    _require_coordinator(actor)
    meeting = get_meeting(meeting_id)
    _check_version(meeting, seen_version)
    if present:  # apologies come before a meeting; presence only once it has begun
        _require_started(meeting, "attendance can be recorded")
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
    row.present = present
    _touch(meeting)
    record_event(
        actor,
        "meeting.attendance",
        object_type="meeting",
        object_id=meeting.id,
        detail={"name": row.name, "discipline": row.discipline, "present": present},
    )
    _commit()


def save_outcome_draft(
    actor: Actor, listing_id: int, data: dict[str, Any], seen_version: int | None
) -> ListingModel:
    _require_coordinator(actor)
    listing = _listing(listing_id)
    _check_version(listing, seen_version)
    if listing.status != ListingStatus.LISTED:
        raise ConflictError("This outcome has already been confirmed.")
    listing.outcome = data
    record_event(
        actor,
        "meeting.outcome_drafted",
        patient_id=listing.patient_id,
        object_type="meeting_listing",
        object_id=listing.id,
    )
    _commit()
    return listing


def confirm_outcome(
    actor: Actor,
    listing_id: int,
    data: dict[str, Any],
    nonquorate_reason: str | None,
    seen_version: int | None,
) -> ListingModel:
    """Confirm the outcome: completes the patient's MDT task and advances their pathway,
    in the same transaction as the listing."""
    _require_coordinator(actor)
    listing = _listing(listing_id)
    _check_version(listing, seen_version)
    if listing.status != ListingStatus.LISTED:
        raise ConflictError("This outcome has already been confirmed.")
    _require_started(listing.meeting, "outcomes can be confirmed")
    schema = form_schema(listing.task.instance.pathway_version, listing.task.form) or {}
    data = with_meeting_date(schema, data, listing.meeting)
    missing = missing_disciplines(listing.meeting)
    if missing and not (nonquorate_reason or "").strip():
        raise InvalidInputError(
            {
                "nonquorate_reason": "The meeting is not quorate (missing: "
                f"{', '.join(missing)}): give the reason to confirm anyway"
            }
        )
    listing.status = ListingStatus.CONFIRMED
    listing.outcome = data
    listing.nonquorate_reason = (nonquorate_reason or "").strip() or None
    listing.confirmed_at = clock.now()
    listing.confirmed_by_id = actor.user_id
    try:
        # Validates the outcome against the task's form, advances the pathway and commits
        # the listing with it; on any refusal nothing of either is kept.
        complete_task(actor, listing.task_id, data)
    except DomainError:
        db.session.rollback()
        raise
    return listing


# A form field marked ``"x-meeting-date": true`` takes the meeting's date: it is never typed.
MEETING_DATE = "x-meeting-date"


def meeting_date_fields(schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties") or {}
    return [
        key for key, spec in properties.items() if isinstance(spec, dict) and spec.get(MEETING_DATE)
    ]


def form_at_meeting(schema: dict[str, Any]) -> dict[str, Any]:
    """The outcome form as the meeting fills it in: without the fields the meeting dates."""
    dated = set(meeting_date_fields(schema))
    if not dated:
        return schema
    return {
        **schema,
        "properties": {k: v for k, v in schema["properties"].items() if k not in dated},
        "required": [k for k in schema.get("required", []) if k not in dated],
    }


def with_meeting_date(
    schema: dict[str, Any], data: dict[str, Any], meeting: MeetingModel
) -> dict[str, Any]:
    day = meeting.starts_at.astimezone(LONDON).date().isoformat()
    return {**data, **{key: day for key in meeting_date_fields(schema)}}


def opens_at(meeting: MeetingModel) -> datetime:
    """When outcomes and attendance can first be recorded: the start, less a tolerance."""
    early = int(setting("MDT_MEETING_EARLY_MINUTES"))  # type: ignore[call-overload]
    return meeting.starts_at - timedelta(minutes=early)


def _require_started(meeting: MeetingModel, what: str, at: datetime | None = None) -> None:
    at = at or opens_at(meeting)
    if clock.now() < at:
        when = at.astimezone(LONDON)
        raise InvalidInputError(
            {"meeting": f"The meeting has not started: {what} from {when:%H:%M} on "
             f"{when:%A} {when.day} {when:%B %Y}."}
        )  # fmt: skip


def gp_letter_task(listing: ListingModel) -> HumanTaskModel | None:
    """The pathway's GP-communication task that followed this outcome."""
    return (
        db.session.scalar(
            select(HumanTaskModel)
            .where(
                HumanTaskModel.instance_id == listing.task.instance_id,
                HumanTaskModel.mdt_step == "gp-letter",
                HumanTaskModel.created_at >= listing.task.completed_at,
            )
            .order_by(HumanTaskModel.id)
            .limit(1)
        )
        if listing.task.completed_at
        else None
    )


def record_gp_letter(actor: Actor, listing_id: int, data: dict[str, Any]) -> HumanTaskModel:
    listing = _listing(listing_id)
    task = gp_letter_task(listing)
    if task is None or task.status != TaskStatus.READY:
        raise ConflictError("The GP letter for this outcome has already been recorded.")
    complete_task(actor, task.id, data)
    return task


def close_meeting(actor: Actor, meeting_id: int, seen_version: int | None) -> MeetingModel:
    """Close the meeting; patients not discussed move to the series' next meeting, flagged."""
    _require_coordinator(actor)
    meeting = get_meeting(meeting_id)
    _check_version(meeting, seen_version)
    if meeting.status == MeetingStatus.CLOSED:
        raise ConflictError("The meeting is already closed.")
    _require_started(meeting, "it can be closed", at=meeting.starts_at)
    undiscussed = [item for item in active_listings(meeting) if item.status == ListingStatus.LISTED]
    # Only patients the pathway still holds for review are carried over: never someone whose
    # care ended (died, transferred) or whose review is no longer needed.
    gone = [item for item in undiscussed if item.task.status != TaskStatus.READY]
    for item in gone:
        item.status = ListingStatus.REMOVED
        item.removed_reason = item.removed_reason or "no longer waiting for review"
    undiscussed = [item for item in undiscussed if item not in gone]
    target = None
    if undiscussed and meeting.series is not None:
        target = _next_meeting(meeting.series, meeting.starts_at + timedelta(minutes=1))
    for item in undiscussed:
        item.status = ListingStatus.ROLLED_OVER
        if target is not None:
            _new_listing(
                target, item.task, item.kind, actor.user_id, False, None, rolled_from=item.id
            )
    meeting.status = MeetingStatus.CLOSED
    meeting.closed_at = clock.now()
    record_event(
        actor,
        "meeting.closed",
        object_type="meeting",
        object_id=meeting.id,
        detail={"rolled_over": len(undiscussed), "to_meeting": target.id if target else None},
    )
    _commit()
    return meeting


@dataclass(frozen=True)
class MeetingKpis:
    circulated_24h_before: bool | None
    late_additions: int
    quorate: bool
    missing: list[str]
    outcomes_confirmed: int
    outcomes_confirmed_in_meeting: int
    gp_letters_on_time: int
    gp_letters_due: int
    patients_informed: int


def meeting_kpis(
    meeting: MeetingModel,
    letter_for: Callable[[ListingModel], HumanTaskModel | None] | None = None,
) -> MeetingKpis:
    """The meeting's figures; ``letter_for`` finds each outcome's GP letter task (reports
    over many meetings pass one that looks them up in memory)."""
    letter_for = letter_for or gp_letter_task
    listings = [item for item in meeting.listings if item.status != ListingStatus.REMOVED]
    confirmed = [item for item in listings if item.confirmed_at is not None]
    end = meeting.starts_at + timedelta(minutes=meeting.duration_minutes)
    in_meeting = [
        item
        for item in confirmed
        if item.confirmed_at
        and meeting.starts_at - timedelta(hours=1) <= item.confirmed_at <= end + timedelta(hours=2)
    ]
    on_time = informed = 0
    for item in confirmed:
        letter = letter_for(item)
        if letter is None or letter.completed_at is None or item.confirmed_at is None:
            continue
        if letter.completed_at <= add_working_days(item.confirmed_at, 1, closures()):
            on_time += 1
        if (letter.data or {}).get("patient_informed"):
            informed += 1
    missing = missing_disciplines(meeting)
    circulated = (
        meeting.circulated_at <= meeting.starts_at - timedelta(hours=24)
        if meeting.circulated_at
        else None
    )
    return MeetingKpis(
        circulated,
        sum(1 for item in listings if item.late),
        not missing,
        missing,
        len(confirmed),
        len(in_meeting),
        on_time,
        len(confirmed),
        informed,
    )
