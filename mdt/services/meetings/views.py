"""What the team sees of one listed patient: preparing, presenting (audited)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mdt.extensions import db
from mdt.models import HumanTaskModel, ListingModel, MeetingModel
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import NotFoundError
from mdt.services.meetings.base import active_listings, get_meeting
from mdt.services.meetings.needs import NeedsFound, needs_found
from mdt.services.meetings.preparation import Referral, referral_for
from mdt.services.policy import may_see_meetings, require
from mdt.services.profiles import Needs, profile_for
from mdt.services.record_views import SummaryRow, clinical_summary, completed_tasks


@dataclass(frozen=True)
class ListingView:
    listing: ListingModel
    summary: list[SummaryRow]
    needs: Needs | None  # what the pathway's profile says of needs assessments, if anything
    found: NeedsFound  # the newest assessment's scores and what the pathway's table decides
    previous_outcomes: list[HumanTaskModel]
    outcome_field: str | None  # the outcome form's field that says what the MDT recommended
    referral: Referral
    # Where this patient is on the list, for presenting one after another.
    position: int
    count: int
    previous_id: int | None
    next_id: int | None


def listing_for_view(
    actor: Actor, listing_id: int, audit: bool = True, action: str = "meeting.patient_presented"
) -> ListingView:
    require(may_see_meetings(actor), "Your role does not see MDT meetings.")
    listing = db.session.get(ListingModel, listing_id)
    if listing is None:
        raise NotFoundError("No such listing")
    completed = completed_tasks(listing.patient_id)
    version = listing.task.instance.pathway_version
    profile = profile_for(version)
    if audit:
        record_event(
            actor,
            action,
            patient_id=listing.patient_id,
            object_type="meeting_listing",
            object_id=listing.id,
        )
        db.session.commit()
    return ListingView(
        listing=listing,
        summary=clinical_summary(completed),
        needs=profile.needs,
        # The patient's own version's table: the one that decided for them.
        found=needs_found(profile.needs, version, completed),
        previous_outcomes=[t for t in completed if t.mdt_step == "outcome"],
        outcome_field=profile.outcome_field,
        referral=referral_for(listing),
        **_place(listing),
    )


def _place(listing: ListingModel) -> dict[str, Any]:
    order = [item.id for item in active_listings(listing.meeting)]
    if listing.id not in order:
        return {"position": 0, "count": len(order), "previous_id": None, "next_id": None}
    at = order.index(listing.id)
    return {
        "position": at + 1,
        "count": len(order),
        "previous_id": order[at - 1] if at > 0 else None,
        "next_id": order[at + 1] if at + 1 < len(order) else None,
    }


def view_meeting(actor: Actor, meeting_id: int) -> MeetingModel:
    """A meeting and its list for any member of the team (seeing the list is audited)."""
    require(may_see_meetings(actor), "Your role does not see MDT meetings.")
    meeting = get_meeting(meeting_id)
    record_event(actor, "meeting.viewed", object_type="meeting", object_id=meeting.id)
    db.session.commit()
    return meeting
