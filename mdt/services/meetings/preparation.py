"""Before the meeting: what the referral asks of the team, and who has prepared each patient.

What goes on the list and who must review what come from the referral form itself: a field
marked ``"x-on-list": true`` is shown on the list and its PDF; a yes/no field marked
``"x-review-by": "radiology"`` asks that discipline to review the patient beforehand. No field
name is known here, so another pathway's referral works the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    ListingModel,
    ListingReadyModel,
    ListingStatus,
    MeetingModel,
    MeetingStatus,
    TaskStatus,
    UserModel,
)
from mdt.models.roles import role_label
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import ConflictError
from mdt.services.form_labels import answer_label, field_title
from mdt.services.meetings.base import active_listings, commit, find_listing
from mdt.services.pathways import form_schema
from mdt.services.policy import may_prepare, require

ON_LIST = "x-on-list"
REVIEW_BY = "x-review-by"


@dataclass(frozen=True)
class Referral:
    """What the referral asks of the meeting, in the form's own words."""

    on_list: list[tuple[str, str]]
    review_by: list[str]  # disciplines asked to review beforehand, e.g. radiology


NO_REFERRAL = Referral([], [])


def referral_task(listing: ListingModel) -> HumanTaskModel | None:
    """The referral that brought the patient to this review: the latest one completed on the
    same pathway before the patient was listed."""
    return db.session.scalar(
        select(HumanTaskModel)
        .where(
            HumanTaskModel.instance_id == listing.task.instance_id,
            HumanTaskModel.mdt_step == "referral",
            HumanTaskModel.status == TaskStatus.COMPLETED,
            HumanTaskModel.completed_at <= listing.added_at,
        )
        .order_by(HumanTaskModel.completed_at.desc(), HumanTaskModel.id.desc())
        .limit(1)
    )


def referral_for(listing: ListingModel) -> Referral:
    task = referral_task(listing)
    if task is None:
        return NO_REFERRAL
    schema = form_schema(task.instance.pathway_version, task.form) or {}
    data = task.data or {}
    on_list, review_by = [], []
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict) or data.get(name) in (None, ""):
            continue
        if spec.get(ON_LIST):
            on_list.append((field_title(schema, name), answer_label(schema, name, data[name])))
        if spec.get(REVIEW_BY) and data[name] is True:
            review_by.append(str(spec[REVIEW_BY]))
    return Referral(on_list, review_by)


def referrals(meeting: MeetingModel) -> dict[int, Referral]:
    """Each listed patient's referral, by listing id."""
    return {item.id: referral_for(item) for item in active_listings(meeting)}


def discipline_of(actor: Actor) -> str:
    user = db.session.get(UserModel, actor.user_id) if actor.user_id else None
    if user is not None and user.discipline:
        return user.discipline
    return ", ".join(sorted(role_label(role) for role in actor.roles)) or actor.username


def to_review(meeting: MeetingModel, discipline: str) -> list[ListingModel]:
    """The patients on the list whose referral asks this discipline to review them."""
    wanted = discipline.strip().lower()
    return [
        item
        for item in active_listings(meeting)
        if any(d.lower() == wanted for d in referral_for(item).review_by)
    ]


def mark_ready(actor: Actor, listing_id: int) -> ListingReadyModel:
    """A member of the team has prepared this patient for the meeting (audited)."""
    require(may_prepare(actor), "Your role does not prepare patients for the MDT.")
    listing = find_listing(listing_id)
    if listing.status != ListingStatus.LISTED or listing.meeting.status in (
        MeetingStatus.CLOSED,
        MeetingStatus.CANCELLED,
    ):
        raise ConflictError("This patient is no longer waiting to be discussed at this meeting.")
    mark = next((m for m in listing.ready if m.user_id == actor.user_id), None)
    if mark is None:
        mark = ListingReadyModel(
            listing=listing, user_id=actor.user_id, discipline=discipline_of(actor)
        )
        db.session.add(mark)
        record_event(
            actor,
            "meeting.patient_ready",
            patient_id=listing.patient_id,
            object_type="meeting_listing",
            object_id=listing.id,
            detail={"discipline": mark.discipline},
        )
    commit()
    return mark
