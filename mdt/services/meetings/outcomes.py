"""In and after the meeting: outcomes drafted live and confirmed (completing each patient's
MDT task), GP letters, and closing with roll-over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    MeetingModel,
    MeetingStatus,
    TaskStatus,
)
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
)
from mdt.services.instances import complete_task
from mdt.services.meetings.attendance import missing_disciplines, require_started
from mdt.services.meetings.base import (
    active_listings,
    check_version,
    commit,
    find_listing,
    get_meeting,
    require_coordinator,
)
from mdt.services.meetings.lists import new_listing
from mdt.services.meetings.schedule import next_meeting
from mdt.services.pathways import form_schema


def save_outcome_draft(
    actor: Actor, listing_id: int, data: dict[str, Any], seen_version: int | None
) -> ListingModel:
    require_coordinator(actor)
    listing = find_listing(listing_id)
    check_version(listing, seen_version)
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
    commit()
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
    require_coordinator(actor)
    listing = find_listing(listing_id)
    check_version(listing, seen_version)
    if listing.status != ListingStatus.LISTED:
        raise ConflictError("This outcome has already been confirmed.")
    require_started(listing.meeting, "outcomes can be confirmed")
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
    listing = find_listing(listing_id)
    task = gp_letter_task(listing)
    if task is None or task.status != TaskStatus.READY:
        raise ConflictError("The GP letter for this outcome has already been recorded.")
    complete_task(actor, task.id, data)
    return task


def close_meeting(actor: Actor, meeting_id: int, seen_version: int | None) -> MeetingModel:
    """Close the meeting; patients not discussed move to the series' next meeting, flagged."""
    require_coordinator(actor)
    meeting = get_meeting(meeting_id)
    check_version(meeting, seen_version)
    if meeting.status == MeetingStatus.CLOSED:
        raise ConflictError("The meeting is already closed.")
    require_started(meeting, "it can be closed", at=meeting.starts_at)
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
        target = next_meeting(meeting.series, meeting.starts_at + timedelta(minutes=1))
    for item in undiscussed:
        item.status = ListingStatus.ROLLED_OVER
        if target is not None:
            new_listing(
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
    commit()
    return meeting
