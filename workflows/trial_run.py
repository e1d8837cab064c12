"""A test run: synthetic patients through a pathway, in the sandbox, before anyone relies on it.

Each synthetic patient starts with a starting data set the caller gives (a younger and an
older patient, say) and is taken through the pathway the way staff would: every task is
completed with the form's ordinary answers (``trial_answers``), and when nothing is left to
do the clock moves on to the next timer. At each step the run also tries, from the same
point, what could send a patient another way: the task's other answer sets, a timer firing
before the task is done (an escalation), and each event the pathway is waiting for (a
progression, a death), with the event form's answer sets. A try that takes the patient
somewhere no patient has been yet (an element reached or a gateway branch taken for the
first time) becomes a new patient, followed in turn; one that changes nothing new is
dropped. A patient stops when it is somewhere a patient has already been (the same tasks
and events waiting), when its pathway ends, or at the budget.

What it reports, each problem with the element and the path (the steps from the start)
that led there: run-time errors; tasks that no role can complete; patients left waiting
with nothing that could move them on; elements that nothing leads to and gateway
conditions reading data nothing sets (errors); and elements or branches no test patient
reached (warnings: the answers tried may not be every answer there is).

It runs on its own engine whose clock it moves itself (``workflows.clock``), from the
instant the caller gives.
"""

from __future__ import annotations

import io
import pickle
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import (
    BoundaryEvent,
    EventBasedGateway,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from workflows.engine import PathwayEngine, PathwayRun, _running_task
from workflows.errors import EngineError, MessageNotAcceptedError, WorkflowRunError
from workflows.loader import CompiledPathway
from workflows.records import ReadyTask
from workflows.sandbox import default_helpers
from workflows.trial_answers import AnswerSet, CodeMentions, answer_sets
from workflows.trial_graph import (
    DECISION_GATEWAYS,
    PathwayGraph,
    build_graph,
    catchers_of,
    data_problems,
    influence,
    reachable,
    running_scopes,
    tokens,
)

ERROR, WARNING, NOTE = "error", "warning", "note"
LOOK_AHEAD = 2  # steps an answer that goes the ordinary way at first is followed further
Item = tuple[str, ...]  # ("el", scope, id) or ("br", scope, gateway id, target id)
_AT = (
    TaskState.READY | TaskState.WAITING | TaskState.STARTED
)  # where a patient is: tasks and events waiting
_DONE = TaskState.COMPLETED | TaskState.ERROR | TaskState.STARTED | TaskState.READY


@dataclass(frozen=True)
class TrialBudget:
    """How far a test run may go: the first limit reached stops it (the report says so)."""

    max_seconds: float = 30.0
    max_runs: int = 5000  # engine operations: a task completed, timers fired, an event sent
    max_steps_per_patient: int = 150
    max_patients: int = 500


@dataclass(frozen=True)
class TrialProblem:
    kind: str  # run_error, no_role, stranded, unreachable, unset_data, not_reached, budget
    # error (refuses a publish), warning (needs a manager's confirmation) or note
    severity: str
    message: str
    file: str | None = None
    line: int | None = None
    element_id: str | None = None
    element_name: str | None = None
    # The steps from the start that brought a test patient here (empty: none did).
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Coverage:
    user_tasks_reached: int
    user_tasks: int
    branches_taken: int
    branches: int  # the outgoing flows of exclusive and inclusive gateways that choose

    def describe(self) -> str:
        return (
            f"{self.user_tasks_reached} of {self.user_tasks} user tasks reached, "
            f"{self.branches_taken} of {self.branches} gateway branches taken"
        )


@dataclass(frozen=True)
class TrialReport:
    problems: tuple[TrialProblem, ...]
    # Element and sequence flow ids the test patients reached, and those where something
    # failed, by file.
    reached: dict[str, tuple[str, ...]]
    failed: dict[str, tuple[str, ...]]
    coverage: Coverage
    patients: int
    steps: int
    seconds: float
    complete: bool  # every patient was followed to its end within the budget

    @property
    def errors(self) -> tuple[TrialProblem, ...]:
        return tuple(p for p in self.problems if p.severity == ERROR)

    @property
    def warnings(self) -> tuple[TrialProblem, ...]:
        return tuple(p for p in self.problems if p.severity == WARNING)

    @property
    def passed(self) -> bool:
        return not self.errors


class _Patient:
    """A test patient at one point of its path: its pathway in memory (until something moves
    it on), or saved."""

    def __init__(
        self,
        run: PathwayRun,
        now: datetime,
        path: tuple[str, ...],
        items: frozenset[Item],
        steps: int,
        episodes: int,
    ):
        self.run: PathwayRun | None = run
        self.now, self.path, self.items = now, path, items
        self.steps, self.episodes = steps, episodes
        self.saved: bytes | None = None

    def live(self) -> PathwayRun:
        """The pathway, to move on (take the snapshot first if it will be needed)."""
        assert self.run is not None
        return self.run


@dataclass
class _Action:
    kind: str  # task, timer, message
    describe: str
    task: ReadyTask | None = None
    answers: AnswerSet | None = None
    message: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


class _OutOfBudgetError(Exception):
    pass


class _Copier:
    """Copies of a workflow in memory, to try several ways from one point.

    Pickled with the pathway's specs and the script engine left out (they are shared, never
    copied), which is several times quicker than the engine's own serializer; the bytes
    never leave this process."""

    def __init__(self, pathway: CompiledPathway, script_engine: Any):
        shared: dict[int, Any] = {id(script_engine): script_engine}
        shared[id(pathway.subprocess_specs)] = pathway.subprocess_specs
        for spec in [pathway.spec, *pathway.subprocess_specs.values()]:
            shared[id(spec)] = spec
            for task_spec in spec.task_specs.values():
                shared[id(task_spec)] = task_spec
        self.shared = shared

    def dump(self, workflow: Any) -> bytes:
        out = io.BytesIO()
        _SharingPickler(out, self.shared).dump(workflow)
        return out.getvalue()

    def load(self, data: bytes) -> Any:
        # Bytes this process pickled a moment ago, never anything from outside.
        return _SharingUnpickler(io.BytesIO(data), self.shared).load()


class _SharingPickler(pickle.Pickler):
    def __init__(self, out: io.BytesIO, shared: dict[int, Any]):
        super().__init__(out, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared

    def persistent_id(self, obj: Any) -> int | None:
        return id(obj) if id(obj) in self.shared else None


class _SharingUnpickler(pickle.Unpickler):
    def __init__(self, data: io.BytesIO, shared: dict[int, Any]):
        super().__init__(data)
        self.shared = shared

    def persistent_load(self, pid: Any) -> Any:
        return self.shared[pid]


def run_trial(
    pathway: CompiledPathway,
    bpmn_files: Mapping[str, bytes],
    *,
    patients: Sequence[tuple[str, Mapping[str, Any]]],
    start_at: datetime,
    known_roles: Collection[str] | None = None,
    helpers: Mapping[str, Callable[..., Any]] | None = None,
    time_limit_seconds: float = 2.0,
    context_keys: tuple[str, ...] = (),
    budget: TrialBudget | None = None,
) -> TrialReport:
    """Run synthetic patients through ``pathway`` and report what went wrong, and where.

    ``patients`` are the starting data sets, each with a label for the paths ("a patient of
    45"): the first is followed in full, the others as far as they go somewhere new.
    ``start_at`` is the instant the first patient starts (aware); timers are fired by
    moving the run's own clock on. ``helpers`` are the sandbox's functions (as the
    application's engine has them)."""
    if start_at.tzinfo is None:
        raise ValueError("The test run needs a timezone-aware start instant")
    explorer = _Explorer(
        pathway,
        build_graph(bpmn_files, pathway.forms),
        start_at=start_at,
        known_roles=known_roles,
        helpers=dict(helpers) if helpers is not None else default_helpers(),
        time_limit_seconds=time_limit_seconds,
        context_keys=context_keys,
        budget=budget or TrialBudget(),
    )
    return explorer.explore(patients)


class _Explorer:
    def __init__(
        self,
        pathway: CompiledPathway,
        graph: PathwayGraph,
        *,
        start_at: datetime,
        known_roles: Collection[str] | None,
        helpers: dict[str, Callable[..., Any]],
        time_limit_seconds: float,
        context_keys: tuple[str, ...],
        budget: TrialBudget,
    ):
        self.pathway, self.graph, self.budget = pathway, graph, budget
        self.now = start_at
        self.known_roles = set(known_roles) if known_roles is not None else None
        self.helpers = helpers
        self.engine = PathwayEngine(
            pathway,
            time_limit_seconds=time_limit_seconds,
            helpers=helpers,
            clock=lambda: self.now,
            context_keys=context_keys,
        )
        self.copier = _Copier(pathway, self.engine._script_engine)
        names, strings, numbers = tokens(graph)
        self.mentions = CodeMentions(frozenset(names), frozenset(strings), frozenset(numbers))
        self.covered: dict[Item, tuple[str, ...]] = {}  # what was reached, by the first path
        self.seen: set[tuple[Any, ...]] = set()  # where patients have been, and what comes
        self.tried: set[tuple[Any, ...]] = set()  # branch tries already made
        self.problems: dict[tuple[Any, ...], TrialProblem] = {}
        self.failed: set[tuple[str, str]] = set()
        self.queue: deque[_Patient] = deque()  # patients who got somewhere new
        self.later: deque[_Patient] = deque()  # and who could answer a task somewhere new
        self.contexts: set[tuple[Any, ...]] = set()
        # Answer sets that went a way of their own, with the events that way can reach.
        self.ways: dict[tuple[str, ...], list[tuple[int, frozenset[tuple[str, str]]]]] = {}
        self.runs = 0
        self.patients = 0
        self.started = time.monotonic()
        self.complete = True
        self.start_messages = _start_messages(pathway)
        self._answers: dict[str | None, tuple[date, list[AnswerSet]]] = {}
        self._influences: dict[str | tuple[str, str], frozenset[tuple[str, str]]] = {}

    # -- the search ------------------------------------------------------------------------

    def explore(self, patients: Sequence[tuple[str, Mapping[str, Any]]]) -> TrialReport:
        self.start_names = {name for _, data in patients for name in data}
        others = deque(patients[1:])
        try:
            first = self._start(*patients[0]) if patients else None
            if first is not None:
                self._cover(first.items, first.path)
                self.queue.append(first)
            # The first patient's every way, then what the other starting data sets add.
            while self.queue or others or self.later:
                if not self.queue and others:
                    root = self._start(*others.popleft())
                    if root is not None:
                        self._try_start(root)
                    continue
                patient = (self.queue or self.later).popleft()
                self.patients += 1
                if self.patients > self.budget.max_patients:
                    raise _OutOfBudgetError
                self._follow(patient)
        except _OutOfBudgetError:
            self.complete = False
        return self._report()

    def _start(self, label: str, data: Mapping[str, Any]) -> _Patient | None:
        path = (f"Start: {label}",)
        self._spend()
        try:
            run = self.engine.start(data)
        except WorkflowRunError as error:
            self._run_error(error, None, path)
            return None
        return _Patient(run, self.now, path, frozenset(_scan(run._workflow)), 0, 1)

    def _try_start(self, root: _Patient) -> None:
        """Another starting data set: its first task with each of its answer sets (what a
        patient is and what the first form says of them decide together), kept where it
        goes somewhere new."""
        if root.items - self.covered.keys():
            self._cover(root.items, root.path)
            self.queue.append(root)
            return
        ready = root.run.ready_tasks() if root.run is not None else []
        if not ready:
            return
        snapshot = self._snapshot(root)
        for answers in self._sets(ready[0].form, root.now):
            self._try(snapshot, root, self._task_action(ready[0], answers))

    def _follow(self, patient: _Patient) -> None:
        """Follow one patient along the ordinary answers, trying the other ways at each step."""
        run = patient.live()
        while True:
            positions = _positions(run)
            state = (positions, _timer_order(run))
            if state in self.seen:
                return
            self.seen.add(state)
            ready = run.ready_tasks()
            for task in ready:
                self._check_role(task, patient.path)
            if run.is_finished:
                return
            if patient.steps >= self.budget.max_steps_per_patient:
                self.complete = False
                return
            timers = run.pending_timers()
            waiting = run.waiting_messages()
            # Where events wait (timers apart): what a message or a signal could reach.
            catching = frozenset(p[:2] for p in positions if p[3] == "event")
            default: _Action | None = None
            sets: list[AnswerSet] = []
            if ready:
                sets = self._sets(ready[0].form, patient.now)
                default = self._task_action(ready[0], sets[0])
            elif timers:
                default = self._timer_action(run, patient.now)
            timer_key = ("timer", _waiting_timers(positions))
            try_timer = bool(ready and timers) and timer_key not in self.tried
            messages = sorted(waiting | self.start_messages) if not ready else []
            tries = len(sets) > 1 or try_timer or messages
            snapshot = self._snapshot(patient) if tries else None
            child = self._apply(run, patient, default) if default else None
            if child is not None:
                self._cover(child.items, child.path)
            # The other ways from here, each tried on a copy.
            if snapshot is not None and default is not None and default.task is not None:
                effect = child.items - patient.items if child else frozenset()
                where = (default.task.process_id, default.task.bpmn_id)
                self.contexts.add((where, catching & self._influence(where)))
                self._try_answers(
                    snapshot,
                    patient,
                    ("task", *where),
                    sets,
                    partial(self._task_action, default.task),
                    effect,
                    catching,
                )
            if snapshot is not None and try_timer:  # a timer fires first (an escalation)
                self.tried.add(timer_key)
                self._try(snapshot, patient, None)
            for name in messages:  # events, once everything for now is done
                if snapshot is not None:
                    self._try_message(snapshot, patient, name, catching)
            if default is None:
                if not waiting and not self.start_messages:
                    self._stranded(positions, patient.path)
                return
            if child is None:
                return
            patient = child  # ``run`` has moved on with it

    def _try_message(
        self, snapshot: bytes, patient: _Patient, name: str, catching: frozenset[Any]
    ) -> None:
        catching = catching & self._influence(name)
        key = ("message", name, catching)
        if key in self.tried:
            return
        self.tried.add(key)
        event = self.pathway.events.get(name)
        sets = self._sets(event.form if event else None, patient.now)
        child = self._try(snapshot, patient, self._message_action(name, sets[0], patient))
        if child is None:
            return
        self._try_answers(
            snapshot,
            patient,
            ("message", name),
            sets,
            lambda answers: self._message_action(name, answers, patient),
            child.items - patient.items,
            catching,
        )

    def _try_answers(
        self,
        snapshot: bytes,
        patient: _Patient,
        owner: tuple[str, ...],
        sets: list[AnswerSet],
        action_for: Callable[[AnswerSet], _Action],
        ordinary: frozenset[Item],
        catching: frozenset[tuple[str, str]],
    ) -> None:
        """A task's or an event's other answer sets. The first time, every one; each that
        went a way of its own (not the ordinary answers' way, nor another's) is kept, with
        the events that way can reach (the signals it throws). An answer that goes the
        ordinary way at first is followed a few steps further (a form's answer may only be
        read after the next task). From then on each kept one is tried again wherever those
        events wait differently: elsewhere it would go the same way again."""
        ways = self.ways.get(owner)
        if ways is not None:
            for index, reach in ways:
                key = ("way", owner, index, catching & reach)
                if key not in self.tried:
                    self.tried.add(key)
                    self._try(snapshot, patient, action_for(sets[index]))
            return
        found: dict[Any, int] = {ordinary: 0}
        ahead: frozenset[Item] | None = None  # the ordinary answers' way, further on
        for index in range(1, len(sets)):
            child = self._try(snapshot, patient, action_for(sets[index]), keep=False)
            if child is None:
                found.setdefault(None, index)
                continue
            effect: Any = child.items - patient.items
            if effect == ordinary:
                if ahead is None:
                    ahead = self._ahead(self._try(snapshot, patient, action_for(sets[0]), False))
                self._ahead(child)
                effect = ("ahead", child.items - patient.items)
                if effect[1] == ahead:
                    effect = ordinary
            self._keep(child)
            found.setdefault(effect, index)
        self.ways[owner] = ways = [
            (index, self._reach_of(effect[1] if isinstance(effect, tuple) else effect))
            for effect, index in found.items()
            if index and effect is not None
        ]
        for index, reach in ways:
            self.tried.add(("way", owner, index, catching & reach))

    def _ahead(self, patient: _Patient | None) -> frozenset[Item]:
        """Follow the ordinary answers a few steps on from ``patient`` (in place)."""
        if patient is None:
            return frozenset()
        run = patient.live()
        for _ in range(LOOK_AHEAD):
            ready = run.ready_tasks()
            if ready:
                action = self._task_action(ready[0], self._sets(ready[0].form, patient.now)[0])
            else:
                found = self._timer_action(run, patient.now)
                if found is None:
                    break
                action = found
            after = self._apply(run, patient, action)
            if after is None:
                break
            patient.path, patient.items, patient.steps = after.path, after.items, after.steps
            patient.now, patient.episodes = after.now, after.episodes
        return patient.items

    def _reach_of(self, effect: frozenset[Item]) -> frozenset[tuple[str, str]]:
        """The waiting events that the elements a way went through can reach."""
        starts = [(item[1], item[2]) for item in effect if item[0] == "el"]
        return influence(self.graph, starts)

    def _try(
        self, snapshot: bytes, patient: _Patient, action: _Action | None, keep: bool = True
    ) -> _Patient | None:
        """One other way from ``patient`` (``None``: the next timer fires now): the child,
        kept as a patient of its own when it gets somewhere new (unless ``keep`` is False:
        the caller decides), or None if the pathway did not take it."""
        run = self._restore(patient, snapshot)
        if action is None:
            action = self._timer_action(run, patient.now)
            if action is None:
                return None
        child = self._apply(run, patient, action)
        if child is not None and keep:
            self._keep(child, action.kind != "task")
        return child

    def _keep(self, child: _Patient, context: bool = False) -> None:
        """Follow ``child`` later if it got somewhere new, or (``context``) if a task now
        waits where its answers could reach events no patient's answers to it have met (a
        signal to a track waiting elsewhere)."""
        if child.items - self.covered.keys():
            self._cover(child.items, child.path)
            self.queue.append(child)
        elif context and child.run is not None and self._new_context(child.run):
            self.later.append(child)

    def _new_context(self, run: PathwayRun) -> bool:
        positions = _positions(run)
        if (positions, _timer_order(run)) in self.seen:
            return False
        catching = frozenset(p[:2] for p in positions if p[3] == "event")
        for task in run.ready_tasks():
            where = (task.process_id, task.bpmn_id)
            if len(self._sets(task.form, self.now)) < 2 or self.ways.get(("task", *where)) == []:
                continue  # its answers have never made a difference
            if (where, catching & self._influence(where)) not in self.contexts:
                return True
        return False

    def _apply(self, run: PathwayRun, patient: _Patient, action: _Action) -> _Patient | None:
        """Do ``action`` to ``run`` (at ``patient``); the patient after it, on the same run."""
        self._spend()
        path = (*patient.path, action.describe)
        self.now = patient.now
        episodes = patient.episodes
        try:
            if action.kind == "task" and action.task is not None and action.answers is not None:
                run.complete_task(action.task.id, action.answers.answers)
            elif action.kind == "timer":
                self.now = max(self.now, _next_due(run, self.now))
                run.fire_due_timers()
            elif action.kind == "message" and action.message is not None:
                run.send_message(action.message, action.payload)
                episodes += 1 if "id" in action.payload else 0
        except MessageNotAcceptedError:
            return None
        except WorkflowRunError as error:
            self._run_error(error, run, path)
            return None
        except EngineError as error:
            self._problem(("engine", str(error)), ERROR, "run_error", str(error), None, path)
            return None
        items = patient.items | _scan(run._workflow)
        return _Patient(run, self.now, path, frozenset(items), patient.steps + 1, episodes)

    def _influence(self, start: str | tuple[str, str]) -> frozenset[tuple[str, str]]:
        """The waiting events a message (by name) or a task can make a difference to."""
        if start not in self._influences:
            starts = (
                catchers_of(self.graph, "message", start) if isinstance(start, str) else [start]
            )
            self._influences[start] = influence(self.graph, starts)
        return self._influences[start]

    # -- actions -----------------------------------------------------------------------------

    def _sets(self, form: str | None, now: datetime) -> list[AnswerSet]:
        """A form's answer sets, dated from ``now`` (the patient's: each patient's clock is
        its own). Worked out once per form, then moved to the day."""
        today = now.date()
        if form not in self._answers:
            schema = self.pathway.forms.get(form) if form else None
            self._answers[form] = (today, answer_sets(schema, today, self.mentions))
        first, sets = self._answers[form]
        if first == today:
            return sets
        days = (today - first).days
        return [
            AnswerSet(_shift(s.answers, days), tuple(_shift_change(c, days) for c in s.changes))
            for s in sets
        ]

    def _task_action(self, task: ReadyTask, answers: AnswerSet) -> _Action:
        return _Action("task", _task_step(task, answers), task=task, answers=answers)

    def _message_action(self, name: str, answers: AnswerSet, patient: _Patient) -> _Action:
        event = self.pathway.events.get(name)
        payload = dict(answers.answers)
        if event is not None and event.episode:
            # As the application delivers one: the answers with the new episode's id and kind.
            payload.update({"id": patient.episodes + 1, "kind": event.episode})
        label = event.label if event else name
        changes = answers.describe()
        return _Action(
            "message",
            f"Event recorded: {label}" + (f" ({changes})" if changes else ""),
            message=name,
            payload=payload,
        )

    def _timer_action(self, run: PathwayRun, now: datetime) -> _Action | None:
        timers = run.pending_timers()
        if not timers:
            return None
        due = min(t.due_at for t in timers)
        names = sorted({t.event_name or "a timer" for t in timers if t.due_at <= due})
        when = max(due, now).astimezone(now.tzinfo)
        return _Action("timer", f"Time passes to {when:%d %b %Y %H:%M}: {', '.join(names)}")

    # -- state -------------------------------------------------------------------------------

    def _snapshot(self, patient: _Patient) -> bytes:
        """The patient's pathway here, to try other ways from (taken before it moves on)."""
        if patient.saved is None:
            assert patient.run is not None
            patient.run._prune_finished_subprocesses()  # as every save does
            patient.saved = self.copier.dump(patient.run._workflow)
        return patient.saved

    def _restore(self, patient: _Patient, snapshot: bytes) -> PathwayRun:
        self.now = patient.now
        return PathwayRun(self.engine, self.copier.load(snapshot))

    def _spend(self) -> None:
        self.runs += 1
        if self.runs > self.budget.max_runs:
            raise _OutOfBudgetError
        if time.monotonic() - self.started > self.budget.max_seconds:
            raise _OutOfBudgetError

    def _cover(self, items: Iterable[Item], path: tuple[str, ...]) -> None:
        for item in items:
            self.covered.setdefault(item, path)

    # -- problems found on the way -----------------------------------------------------------

    def _problem(
        self,
        key: tuple[Any, ...],
        severity: str,
        kind: str,
        message: str,
        where: tuple[str, str] | None,
        path: tuple[str, ...],
        name: str | None = None,
    ) -> None:
        if key in self.problems:
            return
        node = self.graph.node(*where) if where else None
        if where and severity == ERROR:
            self.failed.add(where)
        self.problems[key] = TrialProblem(
            kind=kind,
            severity=severity,
            message=message,
            file=node.file if node else None,
            line=node.line if node else None,
            element_id=where[1] if where else None,
            element_name=node.label if node else name,
            path=path,
        )

    def _run_error(
        self, error: WorkflowRunError, run: PathwayRun | None, path: tuple[str, ...]
    ) -> None:
        where = _failed_element(error, run)
        self._problem(
            ("run_error", where or error.task_name),
            ERROR,
            "run_error",
            f"The pathway failed here for a test patient: {error}",
            where,
            path,
            error.task_name,
        )

    def _check_role(self, task: ReadyTask, path: tuple[str, ...]) -> None:
        role = task.role
        if role is not None and (self.known_roles is None or role in self.known_roles):
            return
        what = f"role '{role}', which nobody has" if role else "no role"
        self._problem(
            ("no_role", task.process_id, task.bpmn_id),
            ERROR,
            "no_role",
            f"A test patient waits here for a task with {what}: it appears in nobody's "
            "worklist, so the patient would wait for ever. Put it in a lane named after a role "
            "or give it a role property.",
            (task.process_id, task.bpmn_id),
            path,
            task.name,
        )

    def _stranded(self, positions: tuple[Any, ...], path: tuple[str, ...]) -> None:
        where = (positions[0][0], positions[0][1]) if positions else None
        self._problem(
            ("stranded", positions),
            ERROR,
            "stranded",
            "A test patient is left waiting here with nothing that can move them on: no task "
            "for anyone, no timer and no event the pathway would accept.",
            where,
            path,
        )

    # -- the report --------------------------------------------------------------------------

    def _report(self) -> TrialReport:
        graph, main = self.graph, self.pathway.process_id
        scopes = running_scopes(graph, main)
        can_reach = reachable(graph, main)
        elements = {key: node for key, node in graph.nodes.items() if node.scope in scopes}
        covered = self.covered
        problems = list(self.problems.values())
        # Nothing leads there.
        for key, node in elements.items():
            if key not in can_reach:
                problems.append(
                    TrialProblem(
                        "unreachable",
                        ERROR,
                        "Nothing leads here: no path from the start of the pathway reaches "
                        "this element (check its incoming arrows).",
                        node.file,
                        node.line,
                        node.id,
                        node.label,
                    )
                )
                self.failed.add(key)
        for scope in sorted(set(graph.scopes) - scopes):
            info = graph.scopes[scope]
            if info.kind == "process":
                problems.append(
                    TrialProblem(
                        "unreachable",
                        WARNING,
                        f"Process '{scope}' is never called, so nothing in it runs.",
                        info.file,
                        None,
                        scope,
                        scope,
                    )
                )
        # Conditions on data nothing sets.
        provided = {*self.helpers, *self.start_names}
        for found in data_problems(graph, self.pathway.forms, provided):
            flow = graph.flows.get((found.scope, found.element_id))
            source = ("el", found.scope, flow.source) if flow else None
            problems.append(
                TrialProblem(
                    "unset_data",
                    found.severity,
                    found.message,
                    flow.file if flow else graph.file_of(found.scope),
                    flow.line if flow else None,
                    found.element_id,
                    _flow_label(graph, flow) if flow else found.element_id,
                    covered.get(source, ()) if source else (),
                )
            )
            if found.severity == ERROR:
                self.failed.add((found.scope, found.element_id))
        # What no test patient reached.
        branches, taken = self._branches(elements)
        for flow in branches:
            if flow.id in taken:
                continue
            gateway = graph.nodes[(flow.scope, flow.source)]
            if ("el", flow.scope, flow.source) not in covered:
                continue  # the gateway itself is reported
            if {(flow.scope, flow.id), (flow.scope, flow.source)} & self.failed:
                continue  # an error there says why already
            how = (
                f"its condition ({flow.condition}) was never true"
                if flow.condition
                else "it is the default, and a condition was always true"
            )
            problems.append(
                TrialProblem(
                    "not_reached",
                    WARNING,
                    f"No test patient took this branch of '{gateway.label}': {how} for the "
                    "answers tried. Check the condition, or that a form can give the answer.",
                    flow.file,
                    flow.line,
                    flow.id,
                    _flow_label(graph, flow),
                    covered[("el", flow.scope, flow.source)],
                )
            )
        for key, node in sorted(elements.items(), key=lambda kv: (kv[1].file, kv[1].line or 0)):
            if key not in can_reach or ("el", *key) in covered or key in self.failed:
                continue
            before = self._reached_before(node, covered)
            if before is None:
                continue  # after another element no patient reached: that one is reported
            label, kind, path = before
            if kind in ("callActivity", "subProcess"):
                # Its flow out was never taken, so it never finished: a track that runs
                # until something else ends it (care ending) does that by design.
                severity = NOTE
                message = (
                    f"No test patient reached this: '{label}' never finished for any of them "
                    "(it runs until something else ends it)."
                )
            else:
                severity = WARNING
                message = f"No test patient reached this: none got here from '{label}'."
            problems.append(
                TrialProblem(
                    "not_reached",
                    severity,
                    message,
                    node.file,
                    node.line,
                    node.id,
                    node.label,
                    path,
                )
            )
        if not self.complete:
            # Everything reached already: what the limit left out only repeated it elsewhere.
            missed = any(p.kind == "not_reached" and p.severity == WARNING for p in problems)
            problems.append(
                TrialProblem(
                    "budget",
                    WARNING if missed else NOTE,
                    f"The test run stopped at its limit ({self.patients} patients, "
                    f"{self.runs} steps, {time.monotonic() - self.started:.0f} s): "
                    + (
                        "what it did not reach may still be reachable."
                        if missed
                        else "it had reached everything; not every order of the same steps "
                        "was tried."
                    ),
                )
            )
        order = {ERROR: 0, WARNING: 1, NOTE: 2}
        problems.sort(key=lambda p: (order[p.severity], p.file or "", p.line or 0))
        user_tasks = [key for key, node in elements.items() if node.kind == "userTask"]
        return TrialReport(
            problems=tuple(problems),
            reached=self._reached_by_file(elements, taken),
            failed=_by_file(graph, self.failed),
            coverage=Coverage(
                user_tasks_reached=sum(("el", *key) in covered for key in user_tasks),
                user_tasks=len(user_tasks),
                branches_taken=len([f for f in branches if f.id in taken]),
                branches=len(branches),
            ),
            patients=self.patients,
            steps=self.runs,
            seconds=round(time.monotonic() - self.started, 2),
            complete=self.complete,
        )

    def _branches(self, elements: Mapping[tuple[str, str], Any]) -> tuple[list[Any], set[str]]:
        branches = []
        for key, node in elements.items():
            outgoing = self.graph.outgoing.get(key, [])
            if node.kind in DECISION_GATEWAYS and len(outgoing) > 1:
                branches.extend(outgoing)
        taken = {
            flow.id
            for flow in branches
            if ("br", flow.scope, flow.source, flow.target) in self.covered
        }
        return branches, taken

    def _reached_before(
        self, node: Any, covered: Mapping[Item, tuple[str, ...]]
    ) -> tuple[str, str, tuple[str, ...]] | None:
        """The element before ``node`` that a test patient reached, with its path (None when
        nothing before it was reached, or only gateways whose branch is reported)."""
        graph = self.graph
        for flow in graph.incoming.get((node.scope, node.id), []):
            source = graph.nodes.get((flow.scope, flow.source))
            if source is None or ("el", source.scope, source.id) not in covered:
                continue
            if (
                source.kind in DECISION_GATEWAYS
                and len(graph.outgoing[(flow.scope, source.id)]) > 1
            ):
                continue
            return source.label, source.kind, covered[("el", source.scope, source.id)]
        if node.kind == "boundaryEvent" and node.attached_to:
            host = graph.nodes.get((node.scope, node.attached_to))
            if host is not None and ("el", host.scope, host.id) in covered:
                return host.label, "host", covered[("el", host.scope, host.id)]
        return None

    def _reached_by_file(
        self, elements: Mapping[tuple[str, str], Any], taken: set[str]
    ) -> dict[str, tuple[str, ...]]:
        graph = self.graph
        found: set[tuple[str, str]] = {
            (item[1], item[2]) for item in self.covered if item[0] == "el"
        }
        flows = set()
        for flow in graph.flows.values():
            source = graph.nodes.get((flow.scope, flow.source))
            if source is None or (flow.scope, flow.source) not in found:
                continue
            if (
                source.kind in DECISION_GATEWAYS
                and len(graph.outgoing[(flow.scope, source.id)]) > 1
            ):
                if flow.id in taken:
                    flows.add((flow.scope, flow.id))
            elif (flow.scope, flow.target) in found:
                flows.add((flow.scope, flow.id))
        return _by_file(graph, found | flows)


# -- helpers ---------------------------------------------------------------------------------


def _all_tasks(workflow: Any) -> Iterator[SpiffTask]:
    """Every task of the workflow and its subprocesses (quicker than the engine's iterator,
    which predicts and filters)."""
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.tasks.values()


def _scan(workflow: Any) -> set[Item]:
    """What the patient has reached: elements (a boundary event or an event after an
    event-based gateway only once it fired) and the branches gateways took."""
    items: set[Item] = set()
    for task in _all_tasks(workflow):
        spec = task.task_spec
        if spec.bpmn_id is None:
            continue
        scope = spec._wf_spec.name
        if _reached(task):
            items.add(("el", scope, spec.bpmn_id))
        if task.state == TaskState.COMPLETED and isinstance(
            spec, ExclusiveGateway | InclusiveGateway
        ):
            for child in task.children:
                for target in _targets(child.task_spec):
                    items.add(("br", scope, spec.bpmn_id, target))
    return items


def _reached(task: SpiffTask) -> bool:
    spec = task.task_spec
    waiting_for_event = isinstance(spec, BoundaryEvent) or (
        task.parent is not None and isinstance(task.parent.task_spec, EventBasedGateway)
    )
    if waiting_for_event:
        return bool(task.has_state(TaskState.COMPLETED | TaskState.ERROR))
    return bool(task.has_state(_DONE | TaskState.WAITING))


def _targets(spec: Any) -> list[str]:
    """The element a gateway's child stands for (a task with boundary events is wrapped in
    an unnamed split whose outputs are the task and its events)."""
    if spec.bpmn_id is not None:
        return [spec.bpmn_id]
    return [output.bpmn_id for output in spec.outputs if output.bpmn_id is not None]


def _positions(run: PathwayRun) -> tuple[Any, ...]:
    """Where the patient is: every task and event waiting, with how many of each."""
    found = []
    for task in _all_tasks(run._workflow):
        spec = task.task_spec
        if spec.bpmn_id is None or not task.has_state(_AT):
            continue
        found.append((spec._wf_spec.name, spec.bpmn_id, int(task.state), _catches(spec)))
    return tuple(sorted(found))


def _timer_order(run: PathwayRun) -> tuple[tuple[str, ...], ...]:
    """The order the timers waited on will fire in (those due together grouped): two
    patients waiting at the same places go on alike only if their timers come alike."""
    due: dict[datetime, list[str]] = {}
    for timer in run.pending_timers():
        due.setdefault(timer.due_at, []).append(timer.event_name)
    return tuple(tuple(sorted(due[when])) for when in sorted(due))


def _catches(spec: Any) -> str:
    if not isinstance(spec, CatchingEvent):
        return ""
    definition = getattr(spec, "event_definition", None)
    return "timer" if isinstance(definition, TimerEventDefinition) else "event"


def _waiting_timers(positions: tuple[Any, ...]) -> frozenset[Any]:
    return frozenset(p[:2] for p in positions if p[3] == "timer")


def _next_due(run: PathwayRun, now: datetime) -> datetime:
    due = min(t.due_at for t in run.pending_timers())
    return max(now, due.astimezone(now.tzinfo) + timedelta(seconds=1))


def _shift(value: Any, days: int) -> Any:
    """Answers with every date in them ``days`` later."""
    if isinstance(value, dict):
        return {key: _shift(inner, days) for key, inner in value.items()}
    if isinstance(value, list):
        return [_shift(inner, days) for inner in value]
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
        except ValueError:
            return value
    return value


def _shift_change(change: str, days: int) -> str:
    """A change as the path shows it ("reoffer_on=2026-03-31"), its date moved too."""
    name, equals, value = change.partition("=")
    return f"{name}={_shift(value, days)}" if equals else change


def _task_step(task: ReadyTask, answers: AnswerSet | None) -> str:
    changes = answers.describe() if answers else ""
    return task.name + (f" ({changes})" if changes else "")


def _start_messages(pathway: CompiledPathway) -> frozenset[str]:
    """Messages that start an event subprocess: the engine does not list them as waiting."""
    names = set()
    for spec in pathway.subprocess_specs.values():
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(task_spec, StartEvent) and isinstance(definition, MessageEventDefinition):
                names.add(definition.name)
    return frozenset(names)


def _failed_element(error: WorkflowRunError, run: PathwayRun | None) -> tuple[str, str] | None:
    """The element that failed: the task in error, or the one the engine was running."""
    if run is not None:
        for task in run._workflow.get_tasks(state=TaskState.ERROR):
            if task.task_spec.bpmn_id is not None:
                return task.task_spec._wf_spec.name, task.task_spec.bpmn_id
    cause = error.__cause__
    task = getattr(cause, "task", None) if cause is not None else None
    if not isinstance(task, SpiffTask) and cause is not None:
        task = _running_task(cause)
    if isinstance(task, SpiffTask) and task.task_spec.bpmn_id is not None:
        return task.task_spec._wf_spec.name, task.task_spec.bpmn_id
    return None


def _flow_label(graph: PathwayGraph, flow: Any) -> str:
    if flow.name:
        return str(flow.name)
    source = graph.node(flow.scope, flow.source)
    target = graph.node(flow.scope, flow.target)
    return f"{source.label if source else flow.source} → {target.label if target else flow.target}"


def _by_file(graph: PathwayGraph, keys: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    found: dict[str, set[str]] = {}
    for scope, element_id in keys:
        node = graph.nodes.get((scope, element_id)) or graph.flows.get((scope, element_id))
        if node is not None:
            found.setdefault(node.file, set()).add(element_id)
    return {name: tuple(sorted(ids)) for name, ids in sorted(found.items())}
