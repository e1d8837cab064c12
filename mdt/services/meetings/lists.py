"""The meeting's list: patients appear as candidates by themselves (any ready task whose
mdtStep is "outcome"), are listed, ordered, locked and circulated, and come off every list
when their care ends. Every change carries the version the user saw, so two coordinators
never overwrite each other: the second is told and shown the current list."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import joinedload

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    MeetingModel,
    MeetingStatus,
    PatientModel,
    TaskStatus,
)
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import (
    ConflictError,
    InvalidInputError,
)
from mdt.services.meetings.base import (
    OPEN_LISTING,
    active_listings,
    check_version,
    commit,
    find_listing,
    get_meeting,
    open_for_changes,
    require_coordinator,
    touch,
)
from mdt.services.notifications import tell_role
from mdt.services.patients import patient_matches
from mdt.services.profiles import profile_for

CANDIDATES_PER_PAGE = 25


@dataclass(frozen=True)
class CandidatePage:
    """One page of the patients waiting for MDT review, longest waiting first."""

    tasks: list[HumanTaskModel]
    total: int
    page: int
    search: str = ""

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // CANDIDATES_PER_PAGE))

    @property
    def first(self) -> int:
        """The position of this page's first patient among all those waiting (from 1)."""
        return (self.page - 1) * CANDIDATES_PER_PAGE + 1

    @property
    def last(self) -> int:
        return self.first + len(self.tasks) - 1


def _waiting() -> list[ColumnElement[bool]]:
    """Patients the pathway is holding at MDT review who are on no open list yet."""
    listed = select(ListingModel.task_id).where(ListingModel.status.in_(OPEN_LISTING))
    return [
        HumanTaskModel.mdt_step == "outcome",
        HumanTaskModel.status == TaskStatus.READY,
        HumanTaskModel.id.not_in(listed),
    ]


def candidates(meeting: MeetingModel, search: str = "", page: int = 1) -> CandidatePage:
    """A page of the patients waiting, optionally those matching a name or NHS number: a
    region's list can hold thousands, a meeting takes tens."""
    where = _waiting()
    search = search.strip()[:100]
    if search:
        where.append(
            HumanTaskModel.patient_id.in_(select(PatientModel.id).where(patient_matches(search)))
        )
    total = db.session.scalar(select(func.count()).select_from(HumanTaskModel).where(*where)) or 0
    page = min(max(page, 1), max(1, -(-total // CANDIDATES_PER_PAGE)))
    tasks = db.session.scalars(
        select(HumanTaskModel)
        .where(*where)
        .options(joinedload(HumanTaskModel.patient))
        .order_by(HumanTaskModel.created_at, HumanTaskModel.id)
        .offset((page - 1) * CANDIDATES_PER_PAGE)
        .limit(CANDIDATES_PER_PAGE)
    )
    return CandidatePage(list(tasks), total, page, search)


def _is_waiting(task_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(HumanTaskModel)
            .where(HumanTaskModel.id == task_id, *_waiting())
        )
    )


def clinical_question(patient_id: int) -> str:
    """The question the patient's latest referral asks the MDT (the field the pathway's
    profile names: ``mdt_list.question_field``)."""
    referral = db.session.scalar(
        select(HumanTaskModel)
        .where(
            HumanTaskModel.patient_id == patient_id,
            HumanTaskModel.mdt_step == "referral",
            HumanTaskModel.status == TaskStatus.COMPLETED,
        )
        .order_by(HumanTaskModel.completed_at.desc())
        .limit(1)
    )
    if referral is None:
        return ""
    question = profile_for(referral.instance.pathway_version).question_field
    return str((referral.data or {}).get(question, "")) if question else ""


def add_listing(
    actor: Actor,
    meeting_id: int,
    task_id: int,
    kind: str,
    late_reason: str | None,
    seen_version: int | None,
) -> ListingModel:
    require_coordinator(actor)
    meeting = get_meeting(meeting_id)
    check_version(meeting, seen_version)
    open_for_changes(meeting)
    task = db.session.get(HumanTaskModel, task_id)
    if task is None or not _is_waiting(task.id):
        raise ConflictError("This patient is no longer waiting to be listed.")
    if kind not in ("discussion", "standard_of_care"):
        raise InvalidInputError({"kind": "Select discussion or standard of care"})
    late = clock.now() > meeting.cut_off_at
    if late and not (late_reason or "").strip():
        raise InvalidInputError(
            {
                "late_reason": "The cut-off has passed: give the clinical "
                "reason for adding this patient late"
            }
        )
    listing = new_listing(meeting, task, kind, actor.user_id, late, late_reason)
    touch(meeting)
    record_event(
        actor,
        "meeting.patient_listed",
        patient_id=task.patient_id,
        object_type="meeting",
        object_id=meeting.id,
        detail={"kind": kind, "late": late},
    )
    commit()
    return listing


def new_listing(
    meeting: MeetingModel,
    task: HumanTaskModel,
    kind: str,
    user_id: int | None,
    late: bool,
    late_reason: str | None,
    rolled_from: int | None = None,
) -> ListingModel:
    positions = [listing.position for listing in meeting.listings]
    listing = ListingModel(
        meeting=meeting,
        patient_id=task.patient_id,
        task_id=task.id,
        kind=kind,
        position=max(positions, default=0) + 1,
        clinical_question=clinical_question(task.patient_id),
        late=late,
        late_reason=(late_reason or "").strip() or None,
        added_by_id=user_id,
        rolled_over_from_id=rolled_from,
    )
    db.session.add(listing)
    db.session.flush()
    return listing


def remove_listing(actor: Actor, listing_id: int, seen_version: int | None) -> None:
    require_coordinator(actor)
    listing = find_listing(listing_id)
    meeting = listing.meeting
    check_version(meeting, seen_version)
    open_for_changes(meeting)
    listing.status = ListingStatus.REMOVED
    touch(meeting)
    record_event(
        actor,
        "meeting.patient_removed",
        patient_id=listing.patient_id,
        object_type="meeting",
        object_id=meeting.id,
    )
    commit()


WITHDRAWN = {"death": "died", "transfer": "care transferred", "discharge": "discharged"}


def withdraw_from_lists(actor: Actor, patient_id: int, reason: str) -> int:
    """Care ended (death, transfer, discharge): the patient comes off every list not yet
    discussed, circulated or not, and is never carried over. The caller commits."""
    listings = db.session.scalars(
        select(ListingModel)
        .join(MeetingModel, MeetingModel.id == ListingModel.meeting_id)
        .where(
            ListingModel.patient_id == patient_id,
            ListingModel.status == ListingStatus.LISTED,
            MeetingModel.status != MeetingStatus.CLOSED,
        )
    ).all()
    for listing in listings:
        listing.status = ListingStatus.REMOVED
        listing.removed_reason = WITHDRAWN.get(reason, reason)
        touch(listing.meeting)
        record_event(
            actor,
            "meeting.patient_withdrawn",
            patient_id=patient_id,
            object_type="meeting",
            object_id=listing.meeting_id,
            detail={"reason": reason},
        )
        # A circulated list is in people's hands: the coordinator must tell them.
        meeting = listing.meeting
        tell_role(
            Role.COORDINATOR,
            "off_list",
            f"taken off {meeting.title}, {meeting.starts_at.astimezone(LONDON):%-d %B %Y} "
            f"({listing.removed_reason})"
            + (
                ". The list was circulated: tell those who have it."
                if meeting.circulated_at
                else "."
            ),
            patient_id=patient_id,
            subject=("meeting", meeting.id),
            now=clock.now(),
            actor=actor,
        )
    return len(listings)


def withdrawn_listings(meeting: MeetingModel) -> list[ListingModel]:
    """Patients taken off this list because their care ended (not removed by hand)."""
    return [
        item
        for item in meeting.listings
        if item.status == ListingStatus.REMOVED and item.removed_reason
    ]


def move_listing(actor: Actor, listing_id: int, direction: int, seen_version: int | None) -> None:
    require_coordinator(actor)
    listing = find_listing(listing_id)
    meeting = listing.meeting
    check_version(meeting, seen_version)
    open_for_changes(meeting)
    shown = [item for item in meeting.listings if item.status in OPEN_LISTING]
    index = shown.index(listing)
    other = index + direction
    if 0 <= other < len(shown):
        listing.position, shown[other].position = shown[other].position, listing.position
        touch(meeting)
        commit()


def circulate(actor: Actor, meeting_id: int, seen_version: int | None) -> MeetingModel:
    """Lock the list and record when it went out (KPI: at least 24 hours before)."""
    require_coordinator(actor)
    meeting = get_meeting(meeting_id)
    check_version(meeting, seen_version)
    open_for_changes(meeting)
    meeting.status = MeetingStatus.CIRCULATED
    meeting.circulated_at = clock.now()
    meeting.circulated_by_id = actor.user_id
    record_event(
        actor,
        "meeting.circulated",
        object_type="meeting",
        object_id=meeting.id,
        detail={"patients": len(active_listings(meeting))},
    )
    commit()
    return meeting
