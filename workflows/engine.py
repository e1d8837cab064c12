"""The facade: start a pathway, list its ready human tasks, complete them, send it
messages, fire its timers, cancel it, and save it. Nothing outside this package
touches a BpmnWorkflow or a Spiff task."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import (
    MessageEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from workflows.clock import run_at, system_clock
from workflows.deciding import Decided, decide
from workflows.errors import (
    EngineError,
    MessageNotAcceptedError,
    ScriptTimeoutError,
    TaskNotReadyError,
    WorkflowRunError,
)
from workflows.lint import split_codes
from workflows.loader import CompiledPathway
from workflows.migration import migrated_workflow, migration_blockers
from workflows.records import PendingTimer, ReadyTask
from workflows.sandbox import (
    SandboxEnvironment,
    SandboxInterrupt,
    check_deadline,
    default_helpers,
    time_limit,
)
from workflows.serialization import StateTooLargeError, dump_state, load_state
from workflows.templating import render_text

TIMER_EVENT_TYPES = {
    "DurationTimerEventDefinition",
    "TimeDateEventDefinition",
    "CycleTimerEventDefinition",
}


class _SandboxedScriptEngine(PythonScriptEngine):
    """PythonScriptEngine with the sandbox as its environment.

    ``call_service`` is overridden because the base one has a NameError in its except branch.
    """

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise WorkflowRunError("Service tasks are not supported.", task.task_spec.bpmn_name)


class PathwayEngine:
    """Runs instances of one compiled pathway version."""

    def __init__(
        self,
        pathway: CompiledPathway,
        *,
        time_limit_seconds: float = 2.0,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        clock: Callable[[], datetime] = system_clock,
        context_keys: tuple[str, ...] = (),
        max_ready_tasks: int = 200,
        max_state_bytes: int = 4 * 1024 * 1024,
    ):
        """``clock`` gives "now" as an aware datetime, in the zone the pathway's dates are
        in (the sandbox's ``today()`` is its date); each engine operation reads it once."""
        self.pathway = pathway
        self.time_limit_seconds = time_limit_seconds
        self.clock = clock
        # Top-level data keys every ready task reports (ReadyTask.context).
        self.context_keys = context_keys
        # One instance may have at most this many tasks ready at once (a repeated task's
        # count of 20,000 opened 20,000 tasks for one patient), and keep a state of at most
        # this many characters of JSON.
        self.max_ready_tasks = max_ready_tasks
        self.max_state_bytes = max_state_bytes
        environment = SandboxEnvironment(helpers if helpers is not None else default_helpers())
        self._script_engine = _SandboxedScriptEngine(environment=environment)

    def start(self, data: Mapping[str, Any] | None = None) -> PathwayRun:
        workflow = BpmnWorkflow(
            self.pathway.spec, self.pathway.subprocess_specs, script_engine=self._script_engine
        )
        workflow.task_tree.data.update(dict(data or {}))
        run = PathwayRun(self, workflow)
        run._advance()
        return run

    def adopt(self, state: str, previous: CompiledPathway) -> PathwayRun:
        """An instance saved on ``previous``, moved onto this version and advanced; raises
        MigrationRefusedError (with the reasons) when the safe policy forbids it."""
        workflow = migrated_workflow(state, previous, self.pathway, self._script_engine)
        workflow.script_engine = self._script_engine
        run = PathwayRun(self, workflow)
        run._advance()
        return run

    def migration_blockers(self, state: str, previous: CompiledPathway) -> list[str]:
        """Why an instance saved on ``previous`` cannot move to this version (empty: it
        can), for the dry run. Nothing runs and nothing changes."""
        return migration_blockers(state, previous, self.pathway)

    def decide(self, task_id: str, form: str, cases: Sequence[Mapping[str, Any]]) -> list[Decided]:
        """What business rule task ``task_id``'s decision table makes of each of ``cases``
        (answers to ``form``), run as the task runs it; nothing is stored
        (``workflows.deciding``)."""
        with run_at(self.clock()):
            return decide(
                self.pathway, self._script_engine, task_id, form, cases, self.time_limit_seconds
            )

    def restore(self, state: str) -> PathwayRun:
        workflow = load_state(state, self.pathway.spec, self.pathway.subprocess_specs)
        workflow.script_engine = self._script_engine
        return PathwayRun(self, workflow)


class PathwayRun:
    """One patient's pathway, in memory, between a load and a save."""

    def __init__(self, engine: PathwayEngine, workflow: BpmnWorkflow):
        self._engine = engine
        self._workflow = workflow
        self._broken = False

    # -- reading -------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        return bool(self._workflow.is_completed())

    def ready_tasks(self) -> list[ReadyTask]:
        tasks = self._workflow.get_tasks(state=TaskState.READY, manual=True)
        return [self._ready_task(task) for task in tasks]

    def pending_timers(self) -> list[PendingTimer]:
        """Every timer the instance waits on, including one among the events an event-based
        gateway waits for (the engine lists the gateway's wait without its timer's time)."""
        timers = []
        for event in self._workflow.waiting_events():
            due = _utc(event.value) if event.event_type in TIMER_EVENT_TYPES else None
            if due is not None:
                timers.append(PendingTimer(event.name, due))
        for task in self._workflow.event_manager.tasks.values():
            definition = task.task_spec.event_definition
            if not isinstance(definition, MultipleEventDefinition):
                continue
            due = _utc(task._get_internal_data("event_value"))  # the timer's, once evaluated
            for inner in definition.event_definitions:
                if type(inner).__name__ in TIMER_EVENT_TYPES and due is not None:
                    timers.append(PendingTimer(inner.name, due))
        return timers

    def accepts_message(self, name: str) -> bool:
        return name in self._engine.pathway.message_names

    def waiting_messages(self) -> frozenset[str]:
        """The messages something in the instance waits for now: a catch event reached, a
        boundary event on a running activity. (Message-started event subprocesses are not
        listed by the engine; ``accepts_message`` covers them.)"""
        return frozenset(
            event.name
            for event in self._workflow.waiting_events()
            if event.event_type == "MessageEventDefinition" and event.name
        )

    def state(self) -> str:
        if self._broken:
            raise EngineError("This run failed part-way; its state must not be saved.")
        ready = len(self._workflow.get_tasks(state=TaskState.READY))
        if ready > self._engine.max_ready_tasks:
            self._broken = True
            raise WorkflowRunError(
                f"The pathway opened {ready:,} tasks at once for this patient; at most "
                f"{self._engine.max_ready_tasks:,} may be open (is a repeated task's count "
                "too high?)"
            )
        self._prune_finished_subprocesses()
        try:
            return dump_state(self._workflow, self._engine.max_state_bytes)
        except StateTooLargeError as error:
            self._broken = True
            raise WorkflowRunError(str(error)) from None

    def _prune_finished_subprocesses(self) -> None:
        """Drop the task trees of call activities and subprocesses that have finished.

        Their results were merged into the calling task when they completed; keeping them
        made a patient's stored state grow with every assessment and MDT review. Only
        subprocesses whose calling task is itself finished are dropped: the engine would
        restart one whose caller is still running.
        """
        workflow = self._workflow
        finished = TaskState.COMPLETED | TaskState.CANCELLED
        for task_id in list(workflow.subprocesses):
            if task_id not in workflow.subprocesses:
                continue  # already dropped as part of its parent
            caller = workflow.get_task_from_id(task_id)
            if caller is not None and caller.has_state(finished):
                workflow.delete_subprocess(caller)

    # -- changing ------------------------------------------------------------

    def complete_task(self, task_id: str, data: Mapping[str, Any]) -> None:
        task = self._ready_human_task(task_id)
        if hasattr(task.task_spec, "add_data_from_form"):
            task.task_spec.add_data_from_form(task, dict(data))
        else:  # a plain bpmn:task: no variable name to file the answers under
            task.data.update(dict(data))
        with self._guarded(task):
            task.run()
            self._workflow.do_engine_steps(will_complete_task=_check)

    def send_message(self, name: str, payload: Mapping[str, Any]) -> None:
        """Deliver a message; MessageNotAcceptedError when nothing waits for it."""
        self._deliver(BpmnEvent(MessageEventDefinition(name), payload=dict(payload)), name)

    def send_signal(self, name: str, payload: Mapping[str, Any]) -> None:
        """Broadcast a signal; MessageNotAcceptedError when nothing waits for it."""
        self._deliver(BpmnEvent(SignalEventDefinition(name), payload=dict(payload)), name)

    def _deliver(self, event: BpmnEvent, name: str) -> None:
        with run_at(self._engine.clock()):  # delivery and the steps after it: one instant
            try:
                with time_limit(self._engine.time_limit_seconds):
                    self._workflow.send_event(event)
            except WorkflowException:
                # Nothing in the instance waits for it; the instance is unchanged.
                raise MessageNotAcceptedError(f"The pathway is not waiting for '{name}'.") from None
            except SandboxInterrupt:
                self._broken = True
                raise ScriptTimeoutError("Stopped delivering the message: too slow", name) from None
            except Exception as error:
                self._broken = True
                raise _unexpected(error, name) from error
            with self._guarded(None):
                self._workflow.do_engine_steps(will_complete_task=_check)

    def fire_due_timers(self) -> None:
        with self._guarded(None):
            self._workflow.refresh_timers()
            self._workflow.do_engine_steps(will_complete_task=_check)

    def cancel(self) -> None:
        self._workflow.cancel()

    # -- internals -----------------------------------------------------------

    def _advance(self) -> None:
        with self._guarded(None):
            self._workflow.do_engine_steps(will_complete_task=_check)

    def _ready_human_task(self, task_id: str) -> SpiffTask:
        try:
            task = self._workflow.get_task_from_id(UUID(task_id))
        except (ValueError, SpiffWorkflowException):
            raise TaskNotReadyError(f"No task {task_id} in this pathway.") from None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReadyError("This task is no longer waiting to be done.")
        return task

    @contextmanager
    def _guarded(self, task: SpiffTask | None) -> Iterator[None]:
        """Run engine work under the time limit; turn every failure into our own error."""
        name = task.task_spec.bpmn_name if task is not None else None
        try:
            with run_at(self._engine.clock()), time_limit(self._engine.time_limit_seconds):
                yield
            # Signals and messages thrown inside the pathway that nothing caught (a track that
            # was busy): the engine queues them for the outside world. Nobody outside listens;
            # dropping them keeps the saved state from growing with every one.
            self._workflow.get_events()
        except SandboxInterrupt:
            self._broken = True
            raise ScriptTimeoutError(
                f"Stopped after {self._engine.time_limit_seconds:g} s: the pathway's scripts "
                "took too long",
                name,
            ) from None
        except (SpiffWorkflowException, EngineError) as error:
            self._broken = True
            failed = getattr(error, "task", None)
            where = failed.task_spec.bpmn_name or failed.task_spec.bpmn_id if failed else name
            raise WorkflowRunError(_message(error), where) from error
        except Exception as error:
            # SpiffWorkflow's own code can fail on a diagram it accepted (a multi-instance
            # task with no collection raises a bare TypeError): still one of our errors,
            # named after the element that was running.
            self._broken = True
            raise _unexpected(error, name) from error

    def _ready_task(self, task: SpiffTask) -> ReadyTask:
        spec = task.task_spec
        process_id = spec._wf_spec.name
        info = self._engine.pathway.task_info(process_id, spec.bpmn_id)
        text = spec.extensions.get("instructionsForEndUser") or spec.documentation or ""
        shown = split_codes(info.properties.get("showData") if info else None)
        context = {
            key: task.data[key] for key in (*self._engine.context_keys, *shown) if key in task.data
        }
        return ReadyTask(
            id=str(task.id),
            bpmn_id=spec.bpmn_id,
            name=spec.bpmn_name or spec.bpmn_id,
            process_id=process_id,
            lane=spec.lane,
            role=info.role if info else None,
            form=info.form if info else None,
            standards=info.standards if info else (),
            due_working_days=info.due_working_days if info else None,
            instructions=render_text(text, task.data) if text else "",
            properties=dict(info.properties) if info else {},
            call_path=self._call_path(task),
            context=context,
        )

    def _call_path(self, task: SpiffTask) -> tuple[str, ...]:
        path: list[str] = []
        workflow = task.workflow
        top = self._workflow
        while workflow is not top and workflow.parent_task_id is not None:
            parent = top.get_task_from_id(workflow.parent_task_id)
            path.insert(0, parent.task_spec.bpmn_id)
            workflow = parent.workflow
        return tuple(path)


def _utc(value: Any) -> datetime | None:
    """A timer's time (ISO 8601), in UTC; None for anything else (a cycle's state)."""
    if not isinstance(value, str):
        return None
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (due if due.tzinfo is not None else due.replace(tzinfo=UTC)).astimezone(UTC)


def _check(task: SpiffTask) -> None:
    # Called before the engine completes each task: a BPMN loop with no scripts in
    # it still meets the deadline here.
    check_deadline()


def _unexpected(error: Exception, fallback: str | None) -> WorkflowRunError:
    failed = _running_task(error)
    where = _element_name(failed.task_spec) if failed else fallback
    text = str(error) or "no details"
    return WorkflowRunError(f"The engine failed ({type(error).__name__}: {text})", where)


def _element_name(spec: Any) -> str:
    """The name a modeller gave the element; a multi-instance activity keeps it on the
    spec of the activity it repeats."""
    repeated = spec._wf_spec.task_specs.get(getattr(spec, "task_spec", None) or "")
    return spec.bpmn_name or (repeated.bpmn_name if repeated else None) or spec.bpmn_id


def _running_task(error: BaseException) -> SpiffTask | None:
    """The innermost engine task being run when ``error`` was raised, from the traceback
    (SpiffWorkflow's task specs call it ``my_task``)."""
    found = None
    frame = error.__traceback__
    while frame is not None:
        candidate = frame.tb_frame.f_locals.get("my_task")
        if isinstance(candidate, SpiffTask):
            found = candidate
        frame = frame.tb_next
    return found


def _message(error: Exception) -> str:
    parts = [str(error.args[0]) if error.args else type(error).__name__]
    inner = getattr(error, "error", None) or error.__cause__
    if inner is not None and str(inner) not in parts[0]:
        parts.append(str(inner))
    return ": ".join(parts)
