"""What a coordinator sees of one listed patient: the presentation view (audited)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mdt.extensions import db
from mdt.models import HumanTaskModel, ListingModel
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import NotFoundError, PermissionDeniedError
from mdt.services.record_views import SummaryRow, clinical_summary, completed_tasks

HNA_FLAGS = ("distress", "physical", "practical", "emotional", "family", "spiritual")


@dataclass(frozen=True)
class ListingView:
    listing: ListingModel
    summary: list[SummaryRow]
    hna: dict[str, Any]
    previous_outcomes: list[HumanTaskModel]


def listing_for_view(
    actor: Actor, listing_id: int, audit: bool = True, action: str = "meeting.patient_presented"
) -> ListingView:
    if not actor.has_role(Role.COORDINATOR):
        raise PermissionDeniedError("Only MDT coordinators manage meetings.")
    listing = db.session.get(ListingModel, listing_id)
    if listing is None:
        raise NotFoundError("No such listing")
    completed = completed_tasks(listing.patient_id)
    hna = next((t.data or {} for t in completed if "distress" in (t.data or {})), {})
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
        hna={k: hna[k] for k in HNA_FLAGS if k in hna},
        previous_outcomes=[t for t in completed if t.mdt_step == "outcome"],
    )
