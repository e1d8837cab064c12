"""Patients' pathway instances: start, complete tasks, send events, close.

Each use case loads the instance, runs the engine in memory, saves the new state
together with the rebuilt task and timer projections and the audit row, and commits
once. A concurrent writer is caught by the instance's version column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any, NoReturn

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    EpisodeModel,
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    PathwayVersionModel,
    PatientModel,
    TaskStatus,
    TimerModel,
)
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event, record_task_event
from mdt.services.calendar import add_working_days
from mdt.services.caseloads import assign_key_worker, key_worker_by_name
from mdt.services.episodes import (
    date_episode,
    engine_view,
    episode_of,
    first_episode,
    open_first_episode,
)
from mdt.services.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PathwayFailedError,
    PermissionDeniedError,
)
from mdt.services.form_validation import DateContext, split_hidden, validate_submission
from mdt.services.notifications import tell_role
from mdt.services.outside_meetings import (
    OutsideMeeting,
    declaration_problems,
    record_outside_decision,
)
from mdt.services.pathways import (
    DEFAULT_PATHWAY_KEY,
    closures,
    current_version,
    engine_for,
    form_schema,
)
from mdt.services.policy import may_do_task, require
from mdt.services.profiles import profile_for
from mdt.services.report_cases import refresh_cases
from mdt.services.settings import setting
from workflows import (
    STATE_FORMAT,
    EngineError,
    MessageNotAcceptedError,
    MigrationRefusedError,
    PathwayRun,
    TaskNotReadyError,
    WorkflowRunError,
)
from workflows.isolation import IsolatedRun

CLOSE_REASONS = ("death", "discharge", "transfer")
AnyRun = PathwayRun | IsolatedRun  # in this process, or in the engine workers


def start_pathway(
    actor: Actor, patient_id: int, key: str = DEFAULT_PATHWAY_KEY
) -> PathwayInstanceModel:
    """Use case: start the patient's pathway, committed."""
    instance = begin_pathway(actor, patient_id, key)
    db.session.commit()
    return instance


def begin_pathway(
    actor: Actor, patient_id: int, key: str = DEFAULT_PATHWAY_KEY
) -> PathwayInstanceModel:
    """Inner operation (flushes, never commits): start the pathway inside the caller's use
    case, as registering a patient does, so the patient and their pathway are one commit."""
    patient = db.session.get(PatientModel, patient_id)
    if patient is None:
        raise NotFoundError("No such patient")
    version = current_version(key)
    if version is None:
        raise NotFoundError(f"No published pathway '{key}'")
    engine = engine_for(version)
    now = clock.now()
    instance = PathwayInstanceModel(
        patient_id=patient.id, pathway_version_id=version.id, state="", started_at=now
    )
    instance.pathway_version = version
    db.session.add(instance)
    db.session.flush()
    episode = open_first_episode(actor, instance, engine.pathway)
    try:
        run = engine.start(_initial_data(patient, episode))
        with db.session.begin_nested():  # a save the database refuses undoes only itself
            _save(instance, run, now)
    except (DomainError, OperationalError):
        raise
    except Exception as error:
        # The registration stands whatever the diagram does: the pathway waits, paused with
        # no state, until a manager tries again (on a corrected version once published).
        # Here the failure is part of the caller's transaction: the patient must be kept.
        instance.state = ""
        _mark_error(actor, instance, plain_failure(error))
        db.session.flush()
        return instance
    record_event(
        actor,
        "pathway.started",
        patient_id=patient.id,
        object_type="pathway_instance",
        object_id=instance.id,
        detail={"pathway": key, "version": version.version},
    )
    db.session.flush()
    return instance


def complete_task(
    actor: Actor,
    task_id: int,
    data: Mapping[str, Any],
    outside_meeting: OutsideMeeting | None = None,
) -> HumanTaskModel:
    """Use case: ``advance_task``, committed."""
    task = advance_task(actor, task_id, data, outside_meeting)
    commit_or_conflict()
    return task


def advance_task(
    actor: Actor,
    task_id: int,
    data: Mapping[str, Any],
    outside_meeting: OutsideMeeting | None = None,
) -> HumanTaskModel:
    """Inner operation (flushes, never commits): complete a human task with form data and
    advance the pathway, everything saved in the caller's transaction.

    Answers to questions the form did not ask (a revealed question whose revealing answer
    was changed) are not kept: callers say which (``form_validation.split_hidden``).
    An MDT outcome not being confirmed at a meeting needs ``outside_meeting``: the
    declaration that it was decided outside one, why and by whom (``outside_meetings``)."""
    task = _task_for_change(actor, task_id)
    instance = task.instance
    with pause_on_failure(actor, instance):  # a stored version that no longer loads
        schema = form_schema(instance.pathway_version, task.form)
    data = split_hidden(schema, data)[0] if schema is not None else dict(data)
    errors = validate_submission(schema, data, date_context(instance)) if schema is not None else {}
    errors |= declaration_problems(task, outside_meeting)
    if errors:
        raise InvalidInputError(errors)
    now = clock.now()
    with pause_on_failure(actor, instance):
        run = _restore(instance)
        try:
            run.complete_task(task.spiff_task_id, data)
        except TaskNotReadyError:
            raise ConflictError(
                "This task has already been completed or is no longer needed."
            ) from None
        task.status = TaskStatus.COMPLETED
        task.completed_at = now
        task.completed_by_id = actor.user_id
        task.data = dict(data)
        _apply_patient_facts(actor, task, data)
        pathway = engine_for(instance.pathway_version).pathway
        info = pathway.task_info(task.process_id, task.bpmn_id)
        date_episode(task, info.properties.get("episodeDateField") if info else None, data)
        if outside_meeting is not None:
            record_outside_decision(actor, task, outside_meeting, schema or {}, data)
        _save(instance, run, now)
    record_task_event(actor, "task.completed", task, {"task": task.name, "bpmn_id": task.bpmn_id})
    _flush_or_conflict()
    return task


def date_context(instance: PathwayInstanceModel) -> DateContext:
    return DateContext(
        today=clock.today(),
        index_date=instance.index_date,
        index_wording=profile_for(instance.pathway_version).index_wording,
    )


def deliver_message(
    actor: Actor, instance: PathwayInstanceModel, message: str, payload: Mapping[str, Any]
) -> None:
    """Deliver a message (e.g. a progression) to a running pathway and save it; the caller
    commits. ConflictError when the pathway is not waiting for it now."""
    with pause_on_failure(actor, instance):  # a state that cannot be read pauses it too
        run = _restore(instance)
    if not run.accepts_message(message):
        raise InvalidInputError({"event": f"This pathway has no '{message}' event."})
    now = clock.now()
    with pause_on_failure(actor, instance):
        try:
            run.send_message(message, payload)
        except MessageNotAcceptedError as error:
            raise ConflictError(str(error)) from None
        _save(instance, run, now)
    record_event(
        actor,
        "pathway.event",
        patient_id=instance.patient_id,
        object_type="pathway_instance",
        object_id=instance.id,
        detail={"message": message, "payload": dict(payload)},
    )


def send_event(actor: Actor, instance_id: int, message: str, payload: Mapping[str, Any]) -> None:
    """Deliver a message to a running pathway, as it is (no form): for tests and tools."""
    deliver_message(actor, _running_instance(instance_id), message, payload)
    commit_or_conflict()


def close_pathway(actor: Actor, instance_id: int, reason: str, detail: Mapping[str, Any]) -> None:
    """Use case: end a pathway (see ``end_pathway``), committed."""
    end_pathway(actor, instance_id, reason, detail)
    commit_or_conflict()


def end_pathway(actor: Actor, instance_id: int, reason: str, detail: Mapping[str, Any]) -> None:
    """Inner operation (flushes): end a pathway that declares no event of its own for this
    reason: every open task is cancelled, as of the date recorded (``detail["date"]``, today
    if none)."""
    if reason not in CLOSE_REASONS:
        raise InvalidInputError({"reason": "Choose death, discharge or transfer."})
    instance = _running_instance(instance_id)
    now = clock.now()
    with pause_on_failure(actor, instance):
        run = _restore(instance)
        run.cancel()
        _save(instance, run, now)
    instance.status = InstanceStatus.CLOSED
    end_care(instance, reason, detail.get("date"), now)
    refresh_cases(instance.id)  # the reports see the closure
    record_event(
        actor,
        "pathway.closed",
        patient_id=instance.patient_id,
        object_type="pathway_instance",
        object_id=instance.id,
        detail={"reason": reason, **dict(detail)},
    )
    _flush_or_conflict()


def end_care(instance: PathwayInstanceModel, reason: str, on: str | None, now: datetime) -> None:
    """Care on this pathway ended for ``reason`` on the date recorded (the clinical date, which
    may be days before it was typed in); a death is the patient's too."""
    day = date.fromisoformat(on) if on else clock.today()
    instance.close_reason = reason
    instance.closed_at = min(datetime.combine(day, time(12), tzinfo=LONDON), now)
    if reason == "death":
        instance.patient.date_of_death = day


def migrate_instance(actor: Actor, instance_id: int, target: PathwayVersionModel) -> None:
    """Move one running pathway onto another version of it (the safe policy decides; a
    refusal raises MigrationRefusedError). Open tasks keep their row, so their clock,
    assignee and draft survive; waiting timers start again from now."""
    instance = _running_instance(instance_id)
    source = instance.pathway_version
    with pause_on_failure(actor, instance):
        run = engine_for(target).adopt(instance.state, engine_for(source).pathway)
        _carry_open_tasks(instance, run)
        instance.pathway_version = target
        _save(instance, run, clock.now())
    record_event(
        actor,
        "pathway.migrated",
        patient_id=instance.patient_id,
        object_type="pathway_instance",
        object_id=instance.id,
        detail={"key": target.key, "from": source.version, "to": target.version},
    )
    commit_or_conflict()


def retry_instance(actor: Actor, instance_id: int) -> None:
    """Try again a pathway paused by an error: run it on from its last good state. If it
    fails again it stays paused with the new error; a manager may first move it to a
    corrected version."""
    if not actor.has_role(Role.MANAGER):
        raise PermissionDeniedError("Only service managers restart paused pathways.")
    instance = db.session.get(PathwayInstanceModel, instance_id)
    if instance is None:
        raise NotFoundError("No such pathway")
    if instance.status != InstanceStatus.ERROR:
        raise ConflictError("This pathway is not paused by an error; there is nothing to retry.")
    previous_error = instance.error_message
    with pause_on_failure(actor, instance):
        if not instance.state:
            run = _start_again(actor, instance)
        else:
            run = _restore(instance)
            run.fire_due_timers()  # refreshes timers and runs every step that can run now
        instance.status = InstanceStatus.RUNNING
        instance.error_message = None
        _save(instance, run, clock.now())
    record_event(
        actor,
        "pathway.retried",
        patient_id=instance.patient_id,
        object_type="pathway_instance",
        object_id=instance.id,
        detail={"error": previous_error},
    )
    commit_or_conflict()


def _start_again(actor: Actor, instance: PathwayInstanceModel) -> AnyRun:
    """A pathway that failed at its start has no good state to run on from: it starts
    afresh, on the current version of its pathway (the corrected one, once published)."""
    version = current_version(instance.pathway_version.key) or instance.pathway_version
    episode = first_episode(instance.id) or open_first_episode(
        actor, instance, engine_for(version).pathway
    )
    run = engine_for(version).start(_initial_data(instance.patient, episode))
    instance.pathway_version = version
    return run


def _carry_open_tasks(instance: PathwayInstanceModel, run: AnyRun) -> None:
    """The engine predicts open tasks afresh on the new version; point their rows at the new
    engine tasks rather than cancel them and open new ones."""
    open_rows = {
        (row.bpmn_id, row.call_path): row
        for row in db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.instance_id == instance.id,
                HumanTaskModel.status == TaskStatus.READY,
            )
        )
    }
    for ready in run.ready_tasks():
        row = open_rows.pop((ready.bpmn_id, " ".join(ready.call_path)), None)
        if row is not None:
            row.spiff_task_id = ready.id
            row.process_id = ready.process_id
            row.name, row.role, row.lane, row.form = ready.name, ready.role, ready.lane, ready.form
            row.instructions = ready.instructions


def fire_due_timers(actor: Actor, instance: PathwayInstanceModel, now: datetime) -> None:
    """Fire what is due on one (already locked) instance; the caller commits."""
    try:
        run = _restore(instance)
        run.fire_due_timers()
    except (DomainError, OperationalError):
        raise
    except Exception as error:
        _mark_error(actor, instance, plain_failure(error))
        return
    _save(instance, run, now)  # a failure here: the scheduler pauses it (record_failure)
    record_event(
        actor,
        "pathway.timers_fired",
        patient_id=instance.patient_id,
        object_type="pathway_instance",
        object_id=instance.id,
    )


# -- helpers: they flush, never commit ---------------------------------------------


def _initial_data(patient: PatientModel, episode: EpisodeModel) -> dict[str, Any]:
    # Only what diagrams may branch on; identifying details stay in the patient table. The
    # date of birth is there for ages at later dates (working age at a progression).
    return {
        "patient_id": patient.id,
        "patient_age": patient.age_on(clock.today()),
        "patient_birth_date": patient.date_of_birth.isoformat(),
        "episode": engine_view(episode),
        "local_settings": dict(setting("MDT_PATHWAY_SETTINGS")),  # type: ignore[call-overload]
    }


def _apply_patient_facts(actor: Actor, task: HumanTaskModel, data: Mapping[str, Any]) -> None:
    """Facts a form records about the patient that every page shows (the banner): the key
    worker, from the task and fields the pathway's profile names."""
    patient = task.patient
    worker = profile_for(task.instance.pathway_version).key_worker
    if worker is not None and task.bpmn_id == worker.task and data.get(worker.name_field):
        # The key worker is an account of the profile's role (the form offers their names);
        # a name with no active account here (a pathway older than that) is kept as written.
        name = str(data[worker.name_field])[:200]
        phone = str(data.get(worker.phone_field or "") or "")[:30] or None
        nurse = key_worker_by_name(name, worker.role)
        if nurse is not None:
            assign_key_worker(actor, patient, nurse, phone)
        else:
            patient.key_worker_id = None
            patient.key_worker_name, patient.key_worker_phone = name, phone


def _task_for_change(actor: Actor, task_id: int) -> HumanTaskModel:
    task = db.session.get(HumanTaskModel, task_id)
    if task is None:
        raise NotFoundError("No such task")
    require(may_do_task(actor, task), "This task is for another role.")
    if task.status != TaskStatus.READY:
        raise ConflictError(_already_done(task))
    if task.assigned_to_id not in (None, actor.user_id):
        raise ConflictError("This task is assigned to someone else.")
    if task.instance.status != InstanceStatus.RUNNING:
        raise ConflictError(
            "This patient's pathway is not running "
            f"({task.instance.status}); the task cannot be completed."
        )
    return task


def _already_done(task: HumanTaskModel) -> str:
    if task.status == TaskStatus.COMPLETED and task.completed_by is not None:
        return (
            f"{task.completed_by.display_name} completed this task at "
            f"{task.completed_at:%H:%M on %d %B %Y}. Your answers were not saved."
        )
    return "This task is no longer waiting to be done."


def _running_instance(instance_id: int) -> PathwayInstanceModel:
    instance = db.session.get(PathwayInstanceModel, instance_id)
    if instance is None:
        raise NotFoundError("No such pathway instance")
    if instance.status != InstanceStatus.RUNNING:
        raise ConflictError(f"The pathway is {instance.status}.")
    return instance


def _restore(instance: PathwayInstanceModel) -> AnyRun:
    return engine_for(instance.pathway_version).restore(instance.state)


def _save(instance: PathwayInstanceModel, run: AnyRun, now: datetime) -> None:
    instance.state = run.state()
    instance.state_format = STATE_FORMAT
    instance.updated_at = now
    if run.is_finished and instance.status == InstanceStatus.RUNNING:
        # Finished after care ended (the follow-up after a death is done), or on its own.
        instance.status = (
            InstanceStatus.CLOSED if instance.close_reason else InstanceStatus.COMPLETED
        )
        instance.closed_at = instance.closed_at or now
    _flush_or_conflict()  # the version check happens here, before anything else is written
    _sync_tasks(instance, run, now)
    _sync_timers(instance, run)
    _flush_or_conflict()
    refresh_cases(instance.id)


def _sync_tasks(instance: PathwayInstanceModel, run: AnyRun, now: datetime) -> None:
    """Make the task table match the engine: add new ready tasks, cancel vanished ones."""
    open_rows = {
        row.spiff_task_id: row
        for row in db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.instance_id == instance.id,
                HumanTaskModel.status == TaskStatus.READY,
            )
        )
    }
    new = [ready for ready in run.ready_tasks() if open_rows.pop(ready.id, None) is None]
    episodes = _known_episodes(instance, {episode_of(ready) for ready in new})
    for ready in new:
        due = (
            add_working_days(now, ready.due_working_days, closures())
            if ready.due_working_days is not None
            else None
        )
        db.session.add(
            HumanTaskModel(
                instance_id=instance.id,
                patient_id=instance.patient_id,
                spiff_task_id=ready.id,
                process_id=ready.process_id,
                bpmn_id=ready.bpmn_id,
                name=ready.name,
                role=ready.role,
                lane=ready.lane,
                form=ready.form,
                standards=",".join(ready.standards),
                call_path=" ".join(ready.call_path),
                mdt_step=ready.properties.get("mdtStep"),
                instructions=ready.instructions,
                episode_id=episode_of(ready) if episode_of(ready) in episodes else None,
                context={k: v for k, v in ready.context.items() if k != "episode"} or None,
                status=TaskStatus.READY,
                created_at=now,
                due_at=due,
            )
        )
    for row in open_rows.values():
        row.status = TaskStatus.CANCELLED
        row.completed_at = now


def _known_episodes(instance: PathwayInstanceModel, ids: set[int | None]) -> set[int]:
    """Which of the episode ids tasks report are this instance's (a diagram's script could
    name any number)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return set()
    return set(
        db.session.scalars(
            select(EpisodeModel.id).where(
                EpisodeModel.instance_id == instance.id, EpisodeModel.id.in_(wanted)
            )
        )
    )


def _sync_timers(instance: PathwayInstanceModel, run: AnyRun) -> None:
    # The timer table is a projection of the engine state, rebuilt wholesale.
    wanted = {(t.event_name, t.due_at) for t in run.pending_timers()}
    for row in db.session.scalars(select(TimerModel).where(TimerModel.instance_id == instance.id)):
        key = (row.event_name, row.due_at)
        if key in wanted:
            wanted.discard(key)
        else:
            db.session.delete(row)
    for name, due in wanted:
        db.session.add(TimerModel(instance_id=instance.id, event_name=name, due_at=due))


def _mark_error(actor: Actor, instance: PathwayInstanceModel, error: WorkflowRunError) -> None:
    # The last good state is kept; the failed run is discarded, never saved.
    instance.status = InstanceStatus.ERROR
    instance.error_message = str(error)
    instance.updated_at = clock.now()
    version = instance.pathway_version
    tell_role(
        Role.MANAGER,
        "paused",
        f"{version.title} (version {version.version}) stopped: {error}",
        patient_id=instance.patient_id,
        subject=("pathway_version", version.id),
        now=instance.updated_at,
        actor=actor,
    )
    record_event(
        actor,
        "pathway.error",
        patient_id=instance.patient_id,
        object_type="pathway_instance",
        object_id=instance.id,
        detail={"error": str(error)},
    )


def _fail(actor: Actor, instance_id: int, error: WorkflowRunError) -> NoReturn:
    """The engine failed mid use case: nothing of the use case is kept (rollback), and the
    failure record (the pathway paused, the managers told) is written in its own explicit
    transaction before the use case reports the failure."""
    record_failure(actor, instance_id, error)
    raise PathwayFailedError(
        "The pathway could not continue for this patient and has been paused. "
        f"A manager has been told. Details: {error}",
        instance_id=instance_id,
        reason=str(error),
    )


def record_failure(actor: Actor, instance_id: int, error: BaseException) -> None:
    """Failure record, in its own transaction: whatever was under way is rolled back, and the
    instance is paused on its last good state with the reason in plain words (the managers
    are told; operations lists it). The scheduler calls this when a save fails."""
    db.session.rollback()
    instance = db.session.get(PathwayInstanceModel, instance_id)
    if instance is None:
        return
    if instance.status == InstanceStatus.ERROR:
        # Paused already (a retry that failed again): it stays paused with the new reason;
        # the managers were told when it first paused.
        instance.error_message = str(plain_failure(error))
    else:
        _mark_error(actor, instance, plain_failure(error))
    db.session.commit()


def plain_failure(error: BaseException) -> WorkflowRunError:
    """Any failure while running a patient's pathway, as an engine error in plain words."""
    if isinstance(error, WorkflowRunError):
        return error
    if isinstance(error, EngineError):
        return WorkflowRunError(str(error) or type(error).__name__)
    if isinstance(error, SQLAlchemyError):
        return WorkflowRunError(
            "The pathway's new state could not be saved: something the diagram produced does "
            "not fit the database (a task name too long?)"
        )
    text = str(error)[:300] or "no details"
    return WorkflowRunError(f"The engine failed ({type(error).__name__}: {text})")


@contextmanager
def pause_on_failure(actor: Actor, instance: PathwayInstanceModel) -> Iterator[None]:
    """Around the running and saving of a patient's pathway: any failure (the engine's, a
    worker stopped by its limits, a save the database refuses, a bug) pauses the instance
    with its last good state and raises PathwayFailedError. Nothing is left half-done and
    running. The use case's own refusals (conflicts, invalid input) and a database that
    cannot be reached pass through unchanged."""
    instance_id = instance.id
    try:
        yield
    except (DomainError, OperationalError, MigrationRefusedError):
        # A refusal (the safe migration policy's included) is an answer, not a failure.
        raise
    except Exception as error:
        _fail(actor, instance_id, plain_failure(error))


_CONFLICT = (
    "Someone else changed this patient's pathway at the same moment. "
    "Nothing of yours was saved; reload the page to see the current state."
)


def _flush_or_conflict() -> None:
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ConflictError(_CONFLICT) from None


def commit_or_conflict() -> None:
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise ConflictError(_CONFLICT) from None
