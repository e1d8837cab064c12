"""The pieces every meetings use case shares: finding a meeting or listing, the coordinator's
right to change it, and optimistic locking (the version the user saw)."""

from __future__ import annotations

from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from mdt.extensions import db
from mdt.models import (
    ListingModel,
    ListingStatus,
    MeetingModel,
    MeetingStatus,
)
from mdt.services.actor import Actor
from mdt.services.errors import (
    ConflictError,
    NotFoundError,
)
from mdt.services.policy import may_run_meetings, require

OPEN_LISTING = (ListingStatus.LISTED, ListingStatus.CONFIRMED)


def require_coordinator(actor: Actor) -> None:
    require(may_run_meetings(actor), "Only MDT coordinators manage meetings.")


def get_meeting(meeting_id: int) -> MeetingModel:
    meeting = db.session.get(MeetingModel, meeting_id)
    if meeting is None:
        raise NotFoundError("No such meeting")
    return meeting


def find_listing(listing_id: int) -> ListingModel:
    listing = db.session.get(ListingModel, listing_id)
    if listing is None:
        raise NotFoundError("No such listing")
    return listing


def check_version(item: MeetingModel | ListingModel, seen: int | None) -> None:
    if seen is not None and item.lock_version != seen:
        raise ConflictError(
            "Someone else changed this list while you were looking at it. "
            "Nothing of yours was saved; here is the list as it is now."
        )


def open_for_changes(meeting: MeetingModel) -> None:
    if meeting.status != MeetingStatus.PLANNED:
        raise ConflictError("The list has been circulated and is locked.")


def active_listings(meeting: MeetingModel) -> list[ListingModel]:
    return [item for item in meeting.listings if item.status in OPEN_LISTING]


def touch(meeting: MeetingModel) -> None:
    # Any change to the list is a change to the meeting: force an UPDATE of the meeting row,
    # and with it the version check, even when only listing rows changed.
    flag_modified(meeting, "title")


def commit() -> None:
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise ConflictError(
            "Someone else changed this list at the same moment. Nothing of "
            "yours was saved; here is the list as it is now."
        ) from None
