"""Events in a patient's care: what the pathway's diagrams declare (a progression, a change of
treatment, a death...) and, for pathways that declare no way to end care, death, discharge and
transfer closing the pathway.

A pathway declares an event as a ``bpmn:message`` with a form (see docs/pathway-authoring.md):
staff record it on the patient's page or through the API; the answers are checked against the
form like a task's, and the message is delivered with them. An event may start an episode of
care (dated by its form) or end care (as of the date its form records): then the patient comes
off every MDT list at once, and, for a death, no list, letter or task is for them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.exc import OperationalError

from mdt import clock
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    InstanceStatus,
    ListingModel,
    PathwayInstanceModel,
    PathwayVersionModel,
    PatientModel,
    TaskStatus,
    TimerModel,
)
from mdt.services import closing_corrections as closings
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.episodes import engine_view, open_episode
from mdt.services.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PathwayPausedError,
    PermissionDeniedError,
)
from mdt.services.form_validation import split_hidden, validate_submission
from mdt.services.instances import (
    CLOSE_REASONS,
    commit_or_conflict,
    date_context,
    deliver_message,
    end_care,
    end_pathway,
    plain_failure,
    record_failure,
)
from mdt.services.meetings import withdraw_from_lists
from mdt.services.notifications import clear_done
from mdt.services.pathways import engine_for
from mdt.services.policy import EVENT_ROLES
from mdt.services.report_cases import refresh_cases
from mdt.services.settings import setting
from workflows import EngineError, EventInfo, MessageNotAcceptedError, WorkflowRunError

CLOSE_LABELS = {
    "death": ("Death", "Closes the pathway and cancels every open task."),
    "discharge": ("Discharge", "Closes the pathway and cancels every open task."),
    "transfer": ("Transfer of care", "Closes the pathway and cancels every open task."),
}
# For pathways that declare no event of their own to end care.
GENERIC_CLOSE_FORM: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["date"],
    "properties": {
        "date": {"type": "string", "format": "date", "title": "Date it happened"},
        "destination": {"type": "string", "maxLength": 200, "title": "Transferred to"},
        "notes": {"type": "string", "maxLength": 2000, "title": "Notes"},
    },
}


@dataclass(frozen=True)
class AvailableEvent:
    name: str
    label: str
    hint: str
    schema: dict[str, Any] = field(repr=False)
    closes: str | None = None
    episode: str | None = None
    declared: bool = True  # False: the application's own close, cancelling every task


def running_instance(patient_id: int, key: str | None = None) -> PathwayInstanceModel | None:
    """The patient's pathway that is still in care (not closed by a death or transfer). On
    several pathways at once (pathway_choice), the default pathway's (MDT_DEFAULT_PATHWAY):
    events such as a progression or a death are recorded on it, as before a second one;
    ``key``: the one on that pathway (an event for the other pathway, a discharge from it)."""
    preferred = str(setting("MDT_DEFAULT_PATHWAY"))
    return db.session.scalar(
        select(PathwayInstanceModel)
        .join(PathwayInstanceModel.pathway_version)
        .where(
            PathwayInstanceModel.patient_id == patient_id,
            PathwayInstanceModel.status == InstanceStatus.RUNNING,
            PathwayInstanceModel.close_reason.is_(None),
            *([PathwayVersionModel.key == key] if key else []),
        )
        .order_by(
            case((PathwayVersionModel.key == preferred, 0), else_=1),
            PathwayInstanceModel.started_at.desc(),
        )
        .limit(1)
    )


def available_events(actor: Actor, patient_id: int, key: str | None = None) -> list[AvailableEvent]:
    """What this person can record for the patient now: the events the pathway is waiting
    for, and a close for each reason the pathway does not handle itself. ``key``: on that
    pathway, for a patient on several (see ``running_instance``)."""
    if not actor.has_role(*EVENT_ROLES):
        raise PermissionDeniedError("Your role cannot record events on a pathway.")
    instance = running_instance(patient_id, key)
    if instance is None:
        return []
    engine = engine_for(instance.pathway_version)
    waiting = _waiting_messages(actor, instance, engine)
    declared = engine.pathway.events.values()
    events = [
        AvailableEvent(
            event.name,
            event.label,
            event.hint,
            engine.pathway.forms.get(event.form or "", {}),
            event.closes,
            event.episode,
        )
        for event in declared
        if event.name in waiting and actor.has_role(*event.roles)
    ]
    handled = {event.closes for event in declared if event.closes}
    events += [
        AvailableEvent(reason, *CLOSE_LABELS[reason], GENERIC_CLOSE_FORM, reason, declared=False)
        for reason in CLOSE_REASONS
        if reason not in handled
    ]
    return events


def _waiting_messages(actor: Actor, instance: PathwayInstanceModel, engine: Any) -> frozenset[str]:
    """The messages the pathway waits for, read from its state in an engine worker. A state
    that cannot be read (the worker stopped at its limits, a state it cannot load) pauses the
    pathway as a failed run does (the managers told, listed in operations), and the person
    is told so in plain words instead of an error page."""
    try:
        return engine.restore(instance.state).waiting_messages()  # type: ignore[no-any-return]
    except (DomainError, OperationalError):
        raise
    except Exception as error:
        reason = str(plain_failure(error))
        record_failure(actor, instance.id, error)
        raise PathwayPausedError(
            f"This patient's pathway is paused: {reason}. Nothing can be recorded on it until "
            "it runs again.",
            instance.id,
            reason,
        ) from None


def event_form(actor: Actor, patient_id: int, name: str, key: str | None = None) -> AvailableEvent:
    events = available_events(actor, patient_id, key)
    for event in events:
        if event.name == name:
            return event
    choices = ", ".join(e.name for e in events) or "none"
    raise InvalidInputError(
        {"event": f"This event cannot be recorded for this patient now (you can record: {choices})"}
    )


def _checked(
    actor: Actor, patient_id: int, name: str, answers: dict[str, Any], key: str | None = None
) -> tuple[PathwayInstanceModel, AvailableEvent, dict[str, Any]]:
    if db.session.get(PatientModel, patient_id) is None:
        raise NotFoundError("No such patient")
    instance = running_instance(patient_id, key)
    if instance is None:
        raise ConflictError("This patient's pathway has ended; there is nothing to record it on.")
    event = event_form(actor, patient_id, name, key)
    data = split_hidden(event.schema, answers)[0]
    errors = validate_submission(event.schema, data, date_context(instance))
    if errors:
        raise InvalidInputError(errors)
    return instance, event, data


def record_patient_event(
    actor: Actor,
    patient_id: int,
    name: str,
    answers: dict[str, Any],
    seen_version: int | None = None,
    key: str | None = None,
) -> AvailableEvent:
    """Check the answers against the event's form and apply the event to the patient's
    pathway, in one transaction. Answers to questions the form did not ask are not kept.

    An event that closes the pathway keeps what it changes first (``closing_corrections``),
    so that it can be marked entered in error. ``seen_version`` is the pathway's version the
    person confirmed the close against (``preview_close``): if the pathway changed since,
    nothing is done (ConflictError) and they check again. ``key``: the pathway it is
    recorded on, for a patient on several (by default the default pathway's)."""
    instance, event, data = _checked(actor, patient_id, name, answers, key)
    if seen_version is not None and instance.lock_version != seen_version:
        raise ConflictError(
            "The patient's pathway changed since you checked what this would do: "
            "check again before confirming."
        )
    snapshot = None
    if event.closes:
        declared = engine_for(instance.pathway_version).pathway.events.get(name)
        date_field = declared.date_field if event.declared and declared else "date"
        snapshot = closings.take(
            actor,
            instance,
            name,
            event.closes,
            event.declared,
            data.get(date_field or ""),
            data,
        )
    if event.declared:
        _apply(actor, instance, engine_for(instance.pathway_version).pathway.events[name], data)
    else:
        end_pathway(actor, instance.id, name, data)
        if _leaves_lists(instance, name):
            withdraw_from_lists(actor, patient_id, name)
    if snapshot is not None:
        closings.finish(snapshot)
    if event.closes == "death":
        died_on = snapshot.row.closed_on if snapshot is not None else None
        close_for_death(actor, patient_id, died_on, besides=instance.id, cause=snapshot)
    commit_or_conflict()
    return event


def close_for_death(
    actor: Actor,
    patient_id: int,
    died_on: date | None,
    besides: int | None = None,
    cause: closings.Snapshot | None = None,
) -> list[int]:
    """Inner operation (flushes): a death is the patient's, not one pathway's. Every other
    pathway of theirs still in care, running or paused, closes as of the date of death, as
    that pathway's own death event closes it (or, declaring none, with every open task
    cancelled), each kept for a correction that, made to ``cause``, reopens them all
    (``closing_corrections``). The patient comes off every list, and the notifications of
    the cancelled tasks are cleared. Returns the instances closed."""
    on = died_on.isoformat() if died_on else None
    closed = []
    for other in _in_care(patient_id, besides):
        answers = {"date": on, "with_closing": cause.row.id if cause else None}
        declared = _death_event(other)
        if declared is not None:
            data = {declared.date_field or "date": on}
            snapshot = closings.take(actor, other, declared.name, "death", True, on, answers)
            _apply(actor, other, declared, data)
        else:
            snapshot = closings.take(actor, other, "death", "death", False, on, answers)
            if other.status == InstanceStatus.ERROR:
                _close_without_engine(actor, other, on)
            else:
                end_pathway(actor, other.id, "death", {"date": on})
        closings.finish(snapshot)
        closed.append(other.id)
    withdraw_from_lists(actor, patient_id, "death")
    clear_done(clock.now())
    return closed


def _in_care(patient_id: int, besides: int | None) -> list[PathwayInstanceModel]:
    """The patient's pathways still in care: running, or paused by a failure (a paused
    pathway is care that has not ended, and a dead patient's tasks must not wait on it)."""
    return list(
        db.session.scalars(
            select(PathwayInstanceModel)
            .where(
                PathwayInstanceModel.patient_id == patient_id,
                PathwayInstanceModel.status.in_([InstanceStatus.RUNNING, InstanceStatus.ERROR]),
                PathwayInstanceModel.close_reason.is_(None),
                *([PathwayInstanceModel.id != besides] if besides is not None else []),
            )
            .order_by(PathwayInstanceModel.id)
        )
    )


def _death_event(instance: PathwayInstanceModel) -> EventInfo | None:
    """The running pathway's own death event when it waits for it now; None otherwise (no
    such event, a paused pathway, or a state the engine cannot read: closed generically)."""
    if instance.status != InstanceStatus.RUNNING:
        return None
    engine = engine_for(instance.pathway_version)
    deaths = [e for e in engine.pathway.events.values() if e.closes == "death"]
    if not deaths:
        return None
    try:
        waiting = engine.restore(instance.state).waiting_messages()
    except (EngineError, WorkflowRunError):
        return None
    return next((event for event in deaths if event.name in waiting), None)


def _close_without_engine(actor: Actor, instance: PathwayInstanceModel, on: str | None) -> None:
    """A paused pathway's state cannot be run: it is closed as it stands, its open tasks
    cancelled and its timers dropped (a correction puts both back from the snapshot)."""
    now = clock.now()
    for task in closings.open_tasks(instance):
        task.status = TaskStatus.CANCELLED
        task.completed_at = now
    for timer in db.session.scalars(
        select(TimerModel).where(TimerModel.instance_id == instance.id)
    ):
        db.session.delete(timer)
    instance.status = InstanceStatus.CLOSED
    instance.updated_at = now
    end_care(instance, "death", on, now)
    db.session.flush()
    refresh_cases(instance.id)
    record_event(
        actor,
        "pathway.closed",
        patient_id=instance.patient_id,
        object_type="pathway_instance",
        object_id=instance.id,
        detail={"reason": "death", "date": on, "paused": True},
    )


@dataclass(frozen=True)
class ClosePreview:
    """What recording a death, discharge or transfer will do, shown before anything changes."""

    event: AvailableEvent
    closes_on: date | None
    cancelled: list[HumanTaskModel]
    started: list[str]
    listings: list[ListingModel]
    letters: list[HumanTaskModel]
    version: int
    exact: bool  # False: the engine could not say which tasks follow; every open one is listed


def preview_close(
    actor: Actor, patient_id: int, name: str, answers: dict[str, Any], key: str | None = None
) -> ClosePreview:
    """Check the answers and say what the close would do, changing nothing: the open tasks it
    cancels (by name), the tasks it starts, the MDT lists the patient comes off, the letters
    that will not be sent, and the date the pathway closes as of. The pathway's own events
    are tried on a copy of its state."""
    instance, event, data = _checked(actor, patient_id, name, answers, key)
    if not event.closes:
        raise InvalidInputError({"event": "This event does not close the pathway."})
    open_rows = closings.open_tasks(instance)
    cancelled, started, exact = open_rows, [], True
    date_field = "date"
    if event.declared:
        engine = engine_for(instance.pathway_version)
        declared = engine.pathway.events[name]
        date_field = declared.date_field or ""
        try:
            run = engine.restore(instance.state)
            before = {ready.id for ready in run.ready_tasks()}
            run.send_message(name, dict(data))
            after = {ready.id: ready for ready in run.ready_tasks()}
        except (EngineError, MessageNotAcceptedError, WorkflowRunError):
            exact = False  # a preview never fails the page: it says less instead
        else:
            cancelled = [row for row in open_rows if row.spiff_task_id not in after]
            started = [ready.name for key, ready in after.items() if key not in before]
    on = data.get(date_field)
    return ClosePreview(
        event,
        date.fromisoformat(on) if isinstance(on, str) else None,
        cancelled,
        started,
        closings.open_listings(patient_id) if _leaves_lists(instance, event.closes) else [],
        [row for row in cancelled if _is_letter(row)],
        instance.lock_version,
        exact,
    )


def _leaves_lists(instance: PathwayInstanceModel, reason: str) -> bool:
    """Whether closing ``instance`` takes the patient off the MDT lists: a death always; a
    discharge or transfer unless care goes on on another of their pathways (discharged
    from a clinic, they stay on the lists of the pathway they are still on)."""
    others = db.session.scalar(
        select(PathwayInstanceModel.id)
        .where(
            PathwayInstanceModel.patient_id == instance.patient_id,
            PathwayInstanceModel.id != instance.id,
            PathwayInstanceModel.status == InstanceStatus.RUNNING,
            PathwayInstanceModel.close_reason.is_(None),
        )
        .limit(1)
    )
    return reason == "death" or others is None


def _is_letter(task: HumanTaskModel) -> bool:
    return task.mdt_step == "gp-letter" or "letter" in f"{task.form or ''} {task.name}".lower()


def _apply(
    actor: Actor, instance: PathwayInstanceModel, event: EventInfo, data: dict[str, Any]
) -> None:
    payload = dict(data)
    if event.episode:
        payload = engine_view(open_episode(actor, instance, event, data))
    if event.closes:
        # Care ends as of the date recorded, before the pathway runs on to the follow-up
        # tasks: the reports and lists see the closure with them.
        end_care(instance, event.closes, data.get(event.date_field or ""), clock.now())
        withdraw_from_lists(actor, instance.patient_id, event.closes)
        record_event(
            actor,
            "pathway.closed",
            patient_id=instance.patient_id,
            object_type="pathway_instance",
            object_id=instance.id,
            detail={
                "reason": event.closes,
                "message": event.name,
                "on": data.get(event.date_field or ""),
            },
        )
    deliver_message(actor, instance, event.name, payload)
