"""A death the PAS reports: the patient comes off open MDT lists at once, letters about them
are held, and the coordinators are asked to confirm. Confirming records the pathway's own
death event as of the date of death (closing it, and with it every other pathway the
patient is on: ``patient_events.close_for_death``); "not this patient" releases the
letters. Both are audited."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import DeathNotificationModel, PatientModel
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import ConflictError, NotFoundError
from mdt.services.meetings import withdraw_from_lists
from mdt.services.notifications import tell_role
from mdt.services.pathways import engine_for
from mdt.services.patient_events import (
    AvailableEvent,
    available_events,
    close_for_death,
    record_patient_event,
    running_instance,
)
from mdt.services.policy import may_run_meetings, require

PENDING, CONFIRMED, REJECTED = "pending", "confirmed", "rejected"


def letters_held(patient_id: int) -> bool:
    """Whether letters about the patient are held: the PAS reported a death not yet decided."""
    return (
        db.session.scalar(
            select(DeathNotificationModel.id)
            .where(
                DeathNotificationModel.patient_id == patient_id,
                DeathNotificationModel.status == PENDING,
            )
            .limit(1)
        )
        is not None
    )


def report_death(
    actor: Actor, patient: PatientModel, died_on: date, message_id: int | None
) -> DeathNotificationModel | None:
    """The PAS says the patient died on ``died_on``: off every open list now, letters held,
    the coordinators asked to confirm. Nothing new if the death is already recorded or
    waiting. Flushes; the caller commits."""
    if patient.date_of_death is not None:
        return None
    waiting = db.session.scalar(
        select(DeathNotificationModel).where(
            DeathNotificationModel.patient_id == patient.id,
            DeathNotificationModel.status == PENDING,
        )
    )
    if waiting is not None:
        return None
    notification = DeathNotificationModel(
        patient_id=patient.id,
        date_of_death=died_on,
        message_id=message_id,
        status=PENDING,
        reported_at=clock.now(),
    )
    db.session.add(notification)
    db.session.flush()
    withdrawn = withdraw_from_lists(actor, patient.id, "death")
    record_event(
        actor,
        "pas.death_reported",
        patient_id=patient.id,
        object_type="death_notification",
        object_id=notification.id,
        detail={"date_of_death": died_on.isoformat(), "withdrawn_from_lists": withdrawn},
    )
    tell_role(
        Role.COORDINATOR,
        "pas_death",
        f"The PAS reports the death of {patient.display_name} on {died_on:%-d %B %Y}: "
        "confirm it or say it is not this patient. Letters are held until then.",
        patient_id=patient.id,
        subject=("death_notification", notification.id),
        now=clock.now(),
    )
    return notification


def pending_deaths(actor: Actor) -> list[DeathNotificationModel]:
    """The deaths waiting for a coordinator, oldest first (the viewing is audited)."""
    require(may_run_meetings(actor), "Only MDT coordinators confirm deaths the PAS reports.")
    waiting = list(
        db.session.scalars(
            select(DeathNotificationModel)
            .where(DeathNotificationModel.status == PENDING)
            .order_by(DeathNotificationModel.reported_at, DeathNotificationModel.id)
        )
    )
    record_event(
        actor,
        "pas.deaths_listed",
        detail={"patients": [notification.patient_id for notification in waiting]},
    )
    db.session.commit()
    return waiting


def death_notification(actor: Actor, notification_id: int) -> DeathNotificationModel:
    """One notification, for its confirmation page (the viewing is audited)."""
    require(may_run_meetings(actor), "Only MDT coordinators confirm deaths the PAS reports.")
    notification = db.session.get(DeathNotificationModel, notification_id)
    if notification is None:
        raise NotFoundError("No such death notification")
    record_event(
        actor,
        "pas.death_viewed",
        patient_id=notification.patient_id,
        object_type="death_notification",
        object_id=notification.id,
    )
    db.session.commit()
    return notification


def death_form(actor: Actor, notification: DeathNotificationModel) -> AvailableEvent | None:
    """The death event the patient's pathway offers (its form, with the date field), or None
    when no pathway is running (confirming then records the date of death alone). Raises
    ConflictError if a pathway runs but offers this person no death event."""
    if running_instance(notification.patient_id) is None:
        return None
    for event in available_events(actor, notification.patient_id):
        if event.closes == "death":
            return event
    raise ConflictError(
        "The patient's pathway offers no way to record a death that you can use: record it "
        "on the patient's record, then reject this notification."
    )


def death_date_field(notification: DeathNotificationModel, event: AvailableEvent) -> str:
    """The name of the field in the event's form that holds the date of death."""
    if not event.declared:
        return "date"
    instance = running_instance(notification.patient_id)
    assert instance is not None
    declared = engine_for(instance.pathway_version).pathway.events[event.name]
    return declared.date_field or "date"


def confirm_death(
    actor: Actor, notification_id: int, answers: dict[str, Any] | None = None
) -> DeathNotificationModel:
    """The coordinator confirms the death: the pathway's death event is recorded with these
    answers (the date of death filled in) so the pathway closes as of that date, in one
    transaction with the decision. Raises InvalidInputError with the form's problems."""
    notification = _pending(actor, notification_id)
    _decide(actor, notification, CONFIRMED)
    event = death_form(actor, notification)
    if event is None:
        # No pathway runs, but one may be paused: the death closes it all the same.
        close_for_death(actor, notification.patient_id, notification.date_of_death)
        notification.patient.date_of_death = notification.date_of_death
        db.session.commit()
        return notification
    data = dict(answers or {})
    data[death_date_field(notification, event)] = notification.date_of_death.isoformat()
    try:
        record_patient_event(actor, notification.patient_id, event.name, data)  # commits
    except Exception:
        db.session.rollback()
        raise
    return notification


def reject_death(actor: Actor, notification_id: int) -> DeathNotificationModel:
    """Not this patient: the notification is closed and letters are no longer held. (The
    lists the patient came off are not restored: the coordinator lists them again.)"""
    notification = _pending(actor, notification_id)
    _decide(actor, notification, REJECTED)
    db.session.commit()
    return notification


def _pending(actor: Actor, notification_id: int) -> DeathNotificationModel:
    require(may_run_meetings(actor), "Only MDT coordinators confirm deaths the PAS reports.")
    notification = db.session.get(DeathNotificationModel, notification_id, with_for_update=True)
    if notification is None:
        raise NotFoundError("No such death notification")
    if notification.status != PENDING:
        raise ConflictError(f"This death notification was already {notification.status}.")
    return notification


def _decide(actor: Actor, notification: DeathNotificationModel, status: str) -> None:
    notification.status = status
    notification.decided_by_id = actor.user_id
    notification.decided_at = clock.now()
    record_event(
        actor,
        f"pas.death_{status}",
        patient_id=notification.patient_id,
        object_type="death_notification",
        object_id=notification.id,
        detail={"date_of_death": notification.date_of_death.isoformat()},
    )
    db.session.flush()


def reported_on(notification: DeathNotificationModel) -> date:
    return notification.reported_at.astimezone(LONDON).date()
