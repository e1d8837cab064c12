"""Deaths, discharges and transfers entered in error.

Every event that closes a pathway keeps, in one ``closing_event`` row, what it changed as it
stood just before: the engine state and the instance's status and close fields, the patient's
date of death, the open tasks (with assignee and due date), the timers and the MDT listings.
A service manager can mark the event entered in error, with a reason, within
``MDT_CLOSE_CORRECTION_DAYS`` of it being recorded: the pathway goes back to exactly that
state (the tasks the close cancelled are ready again for the same people by the same dates,
the tasks it started are cancelled, the timers are back, the patient is back on the lists of
meetings still open and the coordinators are told of the others), and the report's cases are
derived again. Audited; nothing is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    ClosingEventModel,
    EpisodeModel,
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    MeetingModel,
    MeetingStatus,
    PathwayInstanceModel,
    TaskStatus,
    TimerModel,
)
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from mdt.services.instances import commit_or_conflict
from mdt.services.meetings.base import touch
from mdt.services.notifications import tell_role
from mdt.services.report_cases import refresh_cases
from mdt.services.settings import setting

ENTERED_IN_ERROR = "pathway.close_entered_in_error"


def correction_days() -> int:
    return int(setting("MDT_CLOSE_CORRECTION_DAYS"))  # type: ignore[call-overload]


def open_listings(patient_id: int) -> list[ListingModel]:
    """The listings a close takes the patient off: on every list not yet discussed (the same
    rule as ``meetings.withdraw_from_lists``)."""
    return list(
        db.session.scalars(
            select(ListingModel)
            .join(MeetingModel, MeetingModel.id == ListingModel.meeting_id)
            .where(
                ListingModel.patient_id == patient_id,
                ListingModel.status == ListingStatus.LISTED,
                MeetingModel.status != MeetingStatus.CLOSED,
            )
            .order_by(MeetingModel.starts_at, ListingModel.id)
        )
    )


def open_tasks(instance: PathwayInstanceModel) -> list[HumanTaskModel]:
    return list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(
                HumanTaskModel.instance_id == instance.id,
                HumanTaskModel.status == TaskStatus.READY,
            )
            .order_by(HumanTaskModel.id)
        )
    )


def _ids(model: Any, instance_id: int) -> set[int]:
    return set(db.session.scalars(select(model.id).where(model.instance_id == instance_id)))


@dataclass
class Snapshot:
    """What a close is about to change, taken before it runs (``take``), finished once it has
    run (``finish``)."""

    row: ClosingEventModel
    task_ids: set[int]
    episode_ids: set[int]


def take(
    actor: Actor,
    instance: PathwayInstanceModel,
    event_name: str,
    reason: str,
    declared: bool,
    closed_on: str | None,
    answers: dict[str, Any],
) -> Snapshot:
    """Keep the pathway as it is now, before ``event_name`` closes it. Flushes."""
    row = ClosingEventModel(
        patient_id=instance.patient_id,
        instance_id=instance.id,
        event_name=event_name,
        reason=reason,
        declared=declared,
        closed_on=date.fromisoformat(closed_on) if closed_on else None,
        answers=dict(answers),
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
        state=instance.state,
        state_format=instance.state_format,
        status=instance.status,
        closed_at=instance.closed_at,
        close_reason=instance.close_reason,
        date_of_death=instance.patient.date_of_death,
        tasks=[
            {
                "id": task.id,
                "assigned_to_id": task.assigned_to_id,
                "due_at": task.due_at.isoformat() if task.due_at else None,
            }
            for task in open_tasks(instance)
        ],
        timers=[
            {"event_name": timer.event_name, "due_at": timer.due_at.isoformat()}
            for timer in db.session.scalars(
                select(TimerModel)
                .where(TimerModel.instance_id == instance.id)
                .order_by(TimerModel.id)
            )
        ],
        listing_ids=[listing.id for listing in open_listings(instance.patient_id)],
        created_task_ids=[],
        created_episode_ids=[],
    )
    db.session.add(row)
    db.session.flush()
    return Snapshot(row, _ids(HumanTaskModel, instance.id), _ids(EpisodeModel, instance.id))


def finish(snapshot: Snapshot) -> ClosingEventModel:
    """Note what the close made (the follow-up tasks, an episode). Flushes."""
    row = snapshot.row
    db.session.flush()
    row.created_task_ids = sorted(_ids(HumanTaskModel, row.instance_id) - snapshot.task_ids)
    row.created_episode_ids = sorted(_ids(EpisodeModel, row.instance_id) - snapshot.episode_ids)
    db.session.flush()
    return row


# -- reading -----------------------------------------------------------------------------


def closings_for(patient_id: int) -> list[ClosingEventModel]:
    return list(
        db.session.scalars(
            select(ClosingEventModel)
            .where(ClosingEventModel.patient_id == patient_id)
            .order_by(ClosingEventModel.recorded_at.desc(), ClosingEventModel.id.desc())
        )
    )


def correctable_until(closing: ClosingEventModel) -> datetime:
    return closing.recorded_at + timedelta(days=correction_days())


def why_not_correctable(closing: ClosingEventModel) -> str | None:
    """Why this close cannot be marked entered in error now, or None when it can."""
    cause = (closing.answers or {}).get("with_closing")
    if cause is not None and _closing(cause).corrected_at is None:
        return (
            "It was closed by a death recorded on another of the patient's pathways: mark "
            "that one entered in error, which reopens this one too."
        )
    return _why_not(closing)


def _why_not(closing: ClosingEventModel) -> str | None:
    if closing.corrected_at is not None:
        return "It was already marked entered in error."
    if clock.now() > correctable_until(closing):
        return (
            f"It was recorded more than {correction_days()} days ago: ask the system "
            "administrator to correct the record."
        )
    later = db.session.scalar(
        select(ClosingEventModel.id).where(
            ClosingEventModel.instance_id == closing.instance_id,
            ClosingEventModel.id > closing.id,
            ClosingEventModel.corrected_at.is_(None),
        )
    )
    if later is not None:
        return "A later event closed the pathway again: correct that one first."
    return None


@dataclass(frozen=True)
class CorrectionView:
    closing: ClosingEventModel
    tasks_back: list[HumanTaskModel]
    tasks_cancelled: list[HumanTaskModel]
    tasks_kept: list[HumanTaskModel]  # started by the close and already done: they happened
    listings: list[ListingModel]
    blocked: str | None
    until: datetime


def _require_manager(actor: Actor) -> None:
    if not actor.has_role(Role.MANAGER):
        raise PermissionDeniedError(
            "Only service managers can mark a death, discharge or transfer entered in error."
        )


def _closing(closing_id: int, lock: bool = False) -> ClosingEventModel:
    closing = db.session.get(ClosingEventModel, closing_id, with_for_update=lock)
    if closing is None:
        raise NotFoundError("No such closing event")
    return closing


def closings_page(actor: Actor, patient_id: int) -> list[CorrectionView]:
    """The patient's closes, newest first, each with what marking it entered in error would
    put back and whether it can be now. Only managers see it; the viewing is audited."""
    _require_manager(actor)
    views = [_view(closing) for closing in closings_for(patient_id)]
    record_event(
        actor,
        "closings.viewed",
        patient_id=patient_id,
        object_type="patient",
        object_id=patient_id,
    )
    db.session.commit()
    return views


def _view(closing: ClosingEventModel) -> CorrectionView:
    created = [db.session.get(HumanTaskModel, i) for i in closing.created_task_ids]
    return CorrectionView(
        closing,
        [t for t in (db.session.get(HumanTaskModel, s["id"]) for s in closing.tasks) if t],
        [t for t in created if t is not None and t.status == TaskStatus.READY],
        [t for t in created if t is not None and t.status == TaskStatus.COMPLETED],
        [item for i in closing.listing_ids if (item := db.session.get(ListingModel, i))],
        why_not_correctable(closing),
        correctable_until(closing),
    )


# -- correcting --------------------------------------------------------------------------


def mark_entered_in_error(
    actor: Actor, patient_id: int, closing_id: int, reason: str
) -> ClosingEventModel:
    """Use case: the close was entered in error; the pathway goes back to how it was just
    before it, in one transaction, audited."""
    _require_manager(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInputError({"reason": "Enter why it was entered in error"})
    if len(reason) > 2000:
        raise InvalidInputError(
            {"reason": "Why it was entered in error must be 2000 characters or fewer"}
        )
    closing = _closing(closing_id, lock=True)
    if closing.patient_id != patient_id:
        raise NotFoundError("No such closing event for this patient")
    blocked = why_not_correctable(closing)
    if blocked:
        raise ConflictError(blocked)
    now = clock.now()
    # A death closed every pathway of the patient's: its correction reopens them all (the
    # closes it caused first, so that the patient's date of death is the cause's own).
    for caused in _caused_by(closing):
        _correct(actor, caused, reason, now)
    _correct(actor, closing, reason, now)
    commit_or_conflict()
    return closing


def _caused_by(closing: ClosingEventModel) -> list[ClosingEventModel]:
    """The other pathways' closes this death brought about (``patient_events.close_for_death``
    marks each with ``with_closing``), not already corrected. Raises ConflictError when one
    cannot be corrected now: a death is corrected whole or not at all."""
    caused = [
        other
        for other in closings_for(closing.patient_id)
        if other.id != closing.id
        and other.corrected_at is None
        and (other.answers or {}).get("with_closing") == closing.id
    ]
    for other in caused:
        blocked = _why_not(other)
        if blocked:
            raise ConflictError(f"The death also closed another pathway: {blocked}")
    return caused


def _correct(actor: Actor, closing: ClosingEventModel, reason: str, now: datetime) -> None:
    """Put one pathway back as ``closing`` found it, audited; flushes."""
    instance = closing.instance
    instance.state = closing.state
    instance.state_format = closing.state_format
    instance.status = closing.status
    instance.closed_at = closing.closed_at
    instance.close_reason = closing.close_reason
    instance.error_message = None
    instance.updated_at = now
    instance.patient.date_of_death = closing.date_of_death
    cancelled = _cancel_started(closing, now)
    _restore_tasks(closing)
    _restore_timers(closing)
    relisted, flagged = _restore_listings(actor, closing, now)
    for episode_id in closing.created_episode_ids:
        episode = db.session.get(EpisodeModel, episode_id)
        if episode is not None and not episode.label.endswith("(entered in error)"):
            episode.label = f"{episode.label} (entered in error)"[:200]
    closing.corrected_at = now
    closing.corrected_by_id = actor.user_id
    closing.correction_reason = reason
    closing.correction = {
        "tasks_ready_again": [t["id"] for t in closing.tasks],
        "tasks_cancelled": cancelled,
        "relisted": relisted,
        "flagged": flagged,
    }
    db.session.flush()
    refresh_cases(instance.id)  # the reports no longer see the closure
    record_event(
        actor,
        ENTERED_IN_ERROR,
        patient_id=closing.patient_id,
        object_type="pathway_instance",
        object_id=instance.id,
        detail={
            "closing_event": closing.id,
            "event": closing.event_name,
            "reason_closed": closing.reason,
            "why": reason,
            **closing.correction,
        },
    )


def _cancel_started(closing: ClosingEventModel, now: datetime) -> list[int]:
    """The tasks the close started (a bereavement follow-up) are cancelled; any already done
    stay as they are: that work happened."""
    cancelled = []
    for task_id in closing.created_task_ids:
        task = db.session.get(HumanTaskModel, task_id)
        if task is not None and task.status == TaskStatus.READY:
            task.status = TaskStatus.CANCELLED
            task.completed_at = now
            cancelled.append(task.id)
    return cancelled


def _restore_tasks(closing: ClosingEventModel) -> None:
    for kept in closing.tasks:
        task = db.session.get(HumanTaskModel, kept["id"])
        if task is None:
            continue
        task.status = TaskStatus.READY
        task.completed_at = None
        task.completed_by_id = None
        task.assigned_to_id = kept["assigned_to_id"]
        task.due_at = datetime.fromisoformat(kept["due_at"]) if kept["due_at"] else None


def _restore_timers(closing: ClosingEventModel) -> None:
    # The timer table is a projection of the engine state: it is put back as it was with it.
    for row in db.session.scalars(
        select(TimerModel).where(TimerModel.instance_id == closing.instance_id)
    ):
        db.session.delete(row)
    db.session.flush()
    for kept in closing.timers:
        db.session.add(
            TimerModel(
                instance_id=closing.instance_id,
                event_name=kept["event_name"],
                due_at=datetime.fromisoformat(kept["due_at"]),
            )
        )


def _restore_listings(
    actor: Actor, closing: ClosingEventModel, now: datetime
) -> tuple[list[int], list[int]]:
    """Back on the same meeting's list when it is still open; for a meeting held, closed or
    cancelled since, the coordinators are told to list the patient again."""
    relisted, flagged = [], []
    for listing_id in closing.listing_ids:
        listing = db.session.get(ListingModel, listing_id)
        if listing is None or listing.status != ListingStatus.REMOVED:
            continue
        meeting = listing.meeting
        if meeting.status in (MeetingStatus.PLANNED, MeetingStatus.CIRCULATED):
            listing.status = ListingStatus.LISTED
            listing.removed_reason = None
            touch(meeting)
            relisted.append(listing.id)
            record_event(
                actor,
                "meeting.patient_relisted",
                patient_id=closing.patient_id,
                object_type="meeting",
                object_id=meeting.id,
                detail={"why": f"{closing.reason} entered in error"},
            )
            continue
        flagged.append(listing.id)
        _tell_coordinators(
            closing,
            meeting,
            f"their {closing.reason} was entered in error; they had been taken off "
            f"{_meeting_words(meeting)}, which is now {meeting.status}: list them again if "
            "they still need discussing.",
            now,
        )
    return relisted, flagged


def _meeting_words(meeting: MeetingModel) -> str:
    return f"{meeting.title}, {meeting.starts_at.astimezone(LONDON):%-d %B %Y}"


def _tell_coordinators(
    closing: ClosingEventModel, meeting: MeetingModel, message: str, now: datetime
) -> None:
    tell_role(
        Role.COORDINATOR,
        "off_list",
        message,
        patient_id=closing.patient_id,
        subject=("meeting", meeting.id),
        now=now,
    )
