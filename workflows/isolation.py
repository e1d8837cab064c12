"""Pathway code runs in worker processes the operating system can stop.

The sandbox (``sandbox.py``) decides what a script may *do*; it cannot stop one C call that
runs for seconds (``round(1, -10**7)``, a ``set()`` of colliding numbers) or a helper that is
not traced. So every evaluation of a pathway's code - restoring a state, its scripts,
conditions, timers and message payloads, rendering its instructions, writing its state out -
happens in one of a few pre-started worker processes, with hard limits:

- ``RLIMIT_AS`` (address space) set in the worker: a script that asks for too much memory
  fails there, never in the web or scheduler process;
- ``RLIMIT_CPU`` set before each request at the worker's CPU time so far plus the allowance:
  the kernel stops a worker that computes past it (SIGXCPU);
- a wall-clock deadline the parent enforces with SIGKILL, and a gentler one inside the worker
  (SIGALRM, which stops Python code between instructions) so an ordinary slow script is
  reported as a timeout rather than killed;
- caps on the stored state's size, on the values task data may hold, and on the ready tasks
  one instance may have at once.

A killed worker is replaced. The boundary is the facade's own: state in, state out. The
parent keeps the compiled pathway (for its forms and task information) and hands the worker
a *recipe* to build the engine once (its files, keyed by version), then for each operation
the stored state, the operation, its arguments and the instant it runs at; the worker answers
with the new state, the ready tasks, the timers, the messages waited for and whether the
pathway finished. ``IsolatedEngine`` and ``IsolatedRun`` have the shape of ``PathwayEngine``
and ``PathwayRun``, so the application does not know which it was given.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from workflows.deciding import Decided
from workflows.errors import (
    EngineError,
    MessageNotAcceptedError,
    ScriptTimeoutError,
    TaskNotReadyError,
    WorkflowRunError,
)
from workflows.loader import CompiledPathway
from workflows.migration import MigrationRefusedError
from workflows.records import PendingTimer, ReadyTask

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Limits:
    """What one operation on one patient's pathway may use."""

    wall_seconds: float = 10.0  # then the parent kills the worker
    cpu_seconds: int = 8  # processor time, enforced by the kernel
    memory_bytes: int = 1024 * 1024 * 1024  # the worker's whole address space
    max_state_bytes: int = 4 * 1024 * 1024  # the state's JSON, before compression
    max_ready_tasks: int = 200  # open tasks in one instance at once


@dataclass(frozen=True)
class EngineRecipe:
    """How a worker builds the engine of one pathway version: ``builder(*args)`` must return a
    ``PathwayEngine``; ``builder`` is a module-level function (it is sent by name)."""

    key: str
    builder: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Outcome:
    """What a worker says after an operation."""

    state: str | None  # None: unchanged
    ready: list[ReadyTask]
    timers: list[PendingTimer]
    finished: bool
    waiting: frozenset[str]
    decided: list[Decided] | None = None  # the answer to a "decide"


@dataclass
class _Request:
    recipes: list[EngineRecipe]  # the ones this worker has not been sent yet
    key: str
    operation: str
    state: str | None
    args: dict[str, Any]
    now: datetime
    previous_key: str | None = None


# -- the worker -----------------------------------------------------------------------------


class _Overtime(BaseException):
    """Raised in the worker by its own alarm; a BaseException, like the sandbox's."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Overtime


def _worker_main(conn: Connection, limits: Limits) -> None:
    """Serve requests until the parent closes the pipe (or the kernel stops us)."""
    if resource is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    gc.freeze()  # what was imported lives as long as the worker: the collector skips it
    engines: dict[str, Any] = {}
    while True:
        try:
            request: _Request = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        _cpu_allowance(limits.cpu_seconds)
        try:
            for recipe in request.recipes:
                if recipe.key not in engines:
                    engines[recipe.key] = recipe.builder(*recipe.args)
                    gc.freeze()  # a compiled pathway is kept for the worker's life too
            answer: tuple[str, Any] = ("ok", _perform(engines, request, limits))
        except MemoryError:
            engines.clear()
            conn.send(("error", ("WorkflowRunError", _MEMORY, None)))
            os._exit(1)  # a worker that ran out of memory is replaced, not trusted
        except _Overtime:
            answer = ("error", ("ScriptTimeoutError", _too_slow(limits), None))
        except EngineError as error:
            answer = ("error", _describe(error))
        except Exception as error:
            text = str(error)[:500] or "no details"
            answer = (
                "error",
                ("WorkflowRunError", f"The engine failed ({type(error).__name__}: {text})", None),
            )
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            conn.send(answer)
        except (OSError, ValueError):
            os._exit(1)


def _cpu_allowance(seconds: int) -> None:
    if resource is None:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = used + seconds
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _perform(engines: dict[str, Any], request: _Request, limits: Limits) -> Outcome:
    engine = engines[request.key]
    now = request.now
    engine.clock = lambda: now  # every operation runs at the instant the parent read
    # The gentle deadline: Python code stops here; a C call that ignores it is killed.
    signal.setitimer(signal.ITIMER_REAL, max(0.05, limits.wall_seconds * 0.8))
    operation, args = request.operation, request.args
    if operation == "blockers":  # the migration dry run reads the state here too
        previous = engines[request.previous_key or ""].pathway
        reasons = engine.migration_blockers(request.state, previous)
        if reasons:
            raise MigrationRefusedError(reasons)
        return Outcome(state=None, ready=[], timers=[], finished=False, waiting=frozenset())
    if operation == "warm":  # the engine was built above; nothing to run
        return Outcome(None, [], [], False, frozenset())
    if operation == "decide":  # the MDT list asks what a decision table makes of answers
        decided = engine.decide(args["task_id"], args["form"], args["cases"])
        return Outcome(None, [], [], False, frozenset(), decided=decided)
    if operation == "start":
        run = engine.start(args["data"])
    elif operation == "adopt":
        run = engine.adopt(request.state, engines[request.previous_key or ""].pathway)
    else:
        run = engine.restore(request.state)
        if operation == "complete_task":
            run.complete_task(args["task_id"], args["data"])
        elif operation == "send_message":
            run.send_message(args["name"], args["payload"])
        elif operation == "send_signal":
            run.send_signal(args["name"], args["payload"])
        elif operation == "fire_due_timers":
            run.fire_due_timers()
        elif operation == "cancel":
            run.cancel()
        elif operation != "inspect":
            raise EngineError(f"Unknown engine operation {operation!r}")
    engine.max_ready_tasks = limits.max_ready_tasks
    engine.max_state_bytes = limits.max_state_bytes
    state = None if operation == "inspect" else run.state()
    return Outcome(
        state=state,
        ready=run.ready_tasks(),
        timers=run.pending_timers(),
        finished=run.is_finished,
        waiting=run.waiting_messages(),
    )


_MEMORY = "The pathway's scripts needed more memory than a pathway may use"


def _too_slow(limits: Limits) -> str:
    return f"Stopped after {limits.wall_seconds:g} s: the pathway's code took too long"


def _describe(error: EngineError) -> tuple[str, Any, Any]:
    if isinstance(error, MigrationRefusedError):
        return ("MigrationRefusedError", list(error.reasons), None)
    if isinstance(error, WorkflowRunError):
        name = type(error).__name__ if type(error) in _ERRORS.values() else "WorkflowRunError"
        return (name, str(error.args[0]) if error.args else "", error.task_name)
    name = type(error).__name__ if type(error) in _ERRORS.values() else "EngineError"
    return (name, str(error), None)


_ERRORS: dict[str, type[EngineError]] = {
    "EngineError": EngineError,
    "WorkflowRunError": WorkflowRunError,
    "ScriptTimeoutError": ScriptTimeoutError,
    "TaskNotReadyError": TaskNotReadyError,
    "MessageNotAcceptedError": MessageNotAcceptedError,
    "MigrationRefusedError": MigrationRefusedError,
}


def _rebuild(kind: str, message: Any, task_name: Any) -> EngineError:
    cls = _ERRORS.get(kind, EngineError)
    if cls is MigrationRefusedError:
        return MigrationRefusedError(list(message))
    if issubclass(cls, WorkflowRunError):
        error: WorkflowRunError = cls.__new__(cls)
        Exception.__init__(error, message)  # already says where it happened
        error.task_name = task_name
        return error
    return cls(message)


# -- the parent -----------------------------------------------------------------------------


class _Worker:
    def __init__(self, context: Any, limits: Limits):
        parent, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, limits), daemon=True, name="pathway-worker"
        )
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.known: set[str] = set()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(timeout=5)


@dataclass
class PoolStats:
    operations: int = 0
    killed: int = 0
    replaced: int = 0
    reasons: list[str] = field(default_factory=list)


class WorkerPool:
    """Pre-started engine workers shared by the threads of one process."""

    def __init__(self, size: int, limits: Limits, preload: tuple[str, ...] = ()):
        self.limits = limits
        self.size = max(1, size)
        self.pid = os.getpid()
        self.stats = PoolStats()
        self._context = multiprocessing.get_context("forkserver")
        if preload:
            self._context.set_forkserver_preload(list(preload))
        self._lock = threading.Condition()
        self._idle = [_Worker(self._context, limits) for _ in range(self.size)]
        self._closed = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.stop()

    @contextlib.contextmanager
    def _worker(self) -> Iterator[list[_Worker]]:
        with self._lock:
            while not self._idle:
                if self._closed:
                    raise EngineError("The engine workers have been stopped.")
                self._lock.wait()
            holder = [self._idle.pop()]
        try:
            yield holder
        finally:
            with self._lock:
                if not self._closed:
                    self._idle.append(holder[0])
                else:
                    holder[0].stop()
                self._lock.notify()

    def run(
        self,
        recipes: list[EngineRecipe],
        operation: str,
        state: str | None,
        args: Mapping[str, Any],
        now: datetime,
    ) -> Outcome:
        """Perform one operation on the engine of ``recipes[0]`` (``recipes[1]`` is the
        version an ``adopt`` comes from); raises the engine's own errors."""
        with self._worker() as holder:
            return self._ask(holder, recipes, operation, state, args, now)

    def warm(self, recipes: list[EngineRecipe], now: datetime) -> None:
        """Have every worker build these engines now, before any patient waits for it: a
        restarted host answers its first requests at full speed."""
        with contextlib.ExitStack() as stack:
            holders = [stack.enter_context(self._worker()) for _ in range(self.size)]
            for recipe in recipes:
                for holder in holders:
                    self._ask(holder, [recipe], "warm", None, {}, now)

    def _ask(
        self,
        holder: list[_Worker],
        recipes: list[EngineRecipe],
        operation: str,
        state: str | None,
        args: Mapping[str, Any],
        now: datetime,
    ) -> Outcome:
        worker = holder[0]
        if not worker.process.is_alive():
            holder[0] = worker = self._replace(worker, "found stopped")
        request = _Request(
            recipes=[r for r in recipes if r.key not in worker.known],
            key=recipes[0].key,
            operation=operation,
            state=state,
            args=dict(args),
            now=now,
            previous_key=recipes[1].key if len(recipes) > 1 else None,
        )
        self.stats.operations += 1
        try:
            worker.conn.send(request)
            worker.known.update(r.key for r in recipes)
            if not worker.conn.poll(self.limits.wall_seconds):
                self.stats.killed += 1
                holder[0] = self._replace(worker, "too slow")
                raise ScriptTimeoutError(_too_slow(self.limits))
            kind, payload = worker.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            holder[0] = self._replace(worker, "stopped")
            raise WorkflowRunError(_stopped(worker)) from None
        if kind == "ok":
            outcome: Outcome = payload
            return outcome
        raise _rebuild(*payload)

    def _replace(self, worker: _Worker, why: str) -> _Worker:
        worker.stop()
        self.stats.replaced += 1
        self.stats.reasons.append(why)
        del self.stats.reasons[:-20]
        return _Worker(self._context, self.limits)


def _stopped(worker: _Worker) -> str:
    code = worker.process.exitcode
    if code == -signal.SIGXCPU:
        return "Stopped: the pathway's code used more processor time than a pathway may"
    if code == -signal.SIGKILL:
        return "Stopped: the pathway's code used more memory or time than a pathway may"
    return _MEMORY


# -- the facade's shape ---------------------------------------------------------------------


class IsolatedEngine:
    """``PathwayEngine``'s interface; every operation runs in the pool's workers."""

    def __init__(
        self,
        pathway: CompiledPathway,
        recipe: EngineRecipe,
        pool: Callable[[], WorkerPool],
        *,
        clock: Callable[[], datetime],
    ):
        self.pathway = pathway
        self.recipe = recipe
        self.clock = clock
        self._pool = pool
        _RECIPES[pathway.sha256] = recipe

    def _run(
        self, operation: str, state: str | None, args: Mapping[str, Any], previous: Any = None
    ) -> Outcome:
        recipes = [self.recipe, *([previous] if previous is not None else [])]
        return self._pool().run(recipes, operation, state, args, self.clock())

    def start(self, data: Mapping[str, Any] | None = None) -> IsolatedRun:
        outcome = self._run("start", None, {"data": dict(data or {})})
        return IsolatedRun(self, outcome.state, outcome)

    def adopt(self, state: str, previous: CompiledPathway) -> IsolatedRun:
        recipe = _RECIPES.get(previous.sha256)
        if recipe is None:
            raise EngineError("The version this pathway is on has not been loaded.")
        outcome = self._run("adopt", state, {}, recipe)
        return IsolatedRun(self, outcome.state, outcome)

    def migration_blockers(self, state: str, previous: CompiledPathway) -> list[str]:
        """``PathwayEngine.migration_blockers``, the state read in a worker."""
        recipe = _RECIPES.get(previous.sha256)
        if recipe is None:
            raise EngineError("The version this pathway is on has not been loaded.")
        try:
            self._run("blockers", state, {}, recipe)
        except MigrationRefusedError as refused:
            return list(refused.reasons)
        return []

    def decide(self, task_id: str, form: str, cases: Sequence[Mapping[str, Any]]) -> list[Decided]:
        """``PathwayEngine.decide``, the table run in a worker."""
        args = {"task_id": task_id, "form": form, "cases": [dict(c) for c in cases]}
        return self._run("decide", None, args).decided or []

    def restore(self, state: str) -> IsolatedRun:
        return IsolatedRun(self, state, None)

    def warm(self) -> None:
        """Build this engine in every worker of the pool now (see ``WorkerPool.warm``)."""
        self._pool().warm([self.recipe], self.clock())


_RECIPES: dict[str, EngineRecipe] = {}


class IsolatedRun:
    """``PathwayRun``'s interface over a stored state; nothing runs in this process."""

    def __init__(self, engine: IsolatedEngine, state: str | None, outcome: Outcome | None):
        self._engine = engine
        self._state = state
        self._outcome = outcome
        self._broken = False

    def _do(self, operation: str, **args: Any) -> None:
        if self._broken:
            raise EngineError("This run failed part-way; it cannot go on.")
        try:
            outcome = self._engine._run(operation, self._state, args)
        except (TaskNotReadyError, MessageNotAcceptedError):
            raise  # nothing changed
        except EngineError:
            self._broken = True
            raise
        if outcome.state is not None:
            self._state = outcome.state
        self._outcome = outcome

    def _seen(self) -> Outcome:
        if self._outcome is None:
            self._do("inspect")
        assert self._outcome is not None
        return self._outcome

    @property
    def is_finished(self) -> bool:
        return self._seen().finished

    def ready_tasks(self) -> list[ReadyTask]:
        return list(self._seen().ready)

    def ready_count(self) -> int:
        return len(self._seen().ready)

    def pending_timers(self) -> list[PendingTimer]:
        return list(self._seen().timers)

    def waiting_messages(self) -> frozenset[str]:
        return self._seen().waiting

    def accepts_message(self, name: str) -> bool:
        return name in self._engine.pathway.message_names

    def state(self) -> str:
        if self._broken or self._state is None:
            raise EngineError("This run failed part-way; its state must not be saved.")
        return self._state

    def complete_task(self, task_id: str, data: Mapping[str, Any]) -> None:
        self._do("complete_task", task_id=task_id, data=dict(data))

    def send_message(self, name: str, payload: Mapping[str, Any]) -> None:
        self._do("send_message", name=name, payload=dict(payload))

    def send_signal(self, name: str, payload: Mapping[str, Any]) -> None:
        self._do("send_signal", name=name, payload=dict(payload))

    def fire_due_timers(self) -> None:
        self._do("fire_due_timers")

    def cancel(self) -> None:
        self._do("cancel")


_pools: dict[tuple[Any, ...], WorkerPool] = {}
_pools_lock = threading.Lock()


def shared_pool(size: int, limits: Limits, preload: tuple[str, ...] = ()) -> WorkerPool:
    """This process's pool for these settings, started on first use (and again in a process
    forked after it was started: workers belong to the process that started them)."""
    key = (size, limits, preload)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None or pool.pid != os.getpid():
            pool = _pools[key] = WorkerPool(size, limits, preload)
        return pool


def stop_pools() -> None:
    """Stop every worker this process started (tests, shutdown)."""
    with _pools_lock:
        pools = [pool for pool in _pools.values() if pool.pid == os.getpid()]
        _pools.clear()
    for pool in pools:
        pool.close()
