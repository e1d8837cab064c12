"""Where a measured request's time goes, so a regression shows which part grew: the engine
(every call into the ``workflows`` facade - restore, run, dump - and, with isolation on, the
round trip to the engine workers), SQL (statements from being sent to their rows read,
timed by SQLAlchemy's cursor events) and the rest (HTTP handling, Flask, validation, ORM
loading, projections' Python, rendering).

Opt-in and for the benchmark only: ``instrumented()`` wraps the facade's public methods and
adds the cursor listeners while it is open, and takes them away after; production code
carries no timers. Only the outermost facade call is timed (an engine method calling
another is counted once)."""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from workflows.engine import PathwayEngine, PathwayRun
from workflows.isolation import IsolatedEngine, IsolatedRun, WorkerPool

_FACADE: tuple[type, ...] = (PathwayEngine, PathwayRun, IsolatedEngine, IsolatedRun)


class _Clock(threading.local):
    engine_s = 0.0
    sql_s = 0.0
    depth = 0
    sql_started = 0.0


_clock = _Clock()


def reset() -> None:
    _clock.engine_s = _clock.sql_s = 0.0


def read() -> tuple[float, float]:
    """(engine, SQL) milliseconds since the last ``reset`` in this thread."""
    return _clock.engine_s * 1000, _clock.sql_s * 1000


def _timed(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _clock.depth:
            return method(*args, **kwargs)
        _clock.depth = 1
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            _clock.engine_s += time.perf_counter() - started
            _clock.depth = 0

    return wrapper


def _before(*_: Any) -> None:
    _clock.sql_started = time.perf_counter()


def _after(*_: Any) -> None:
    _clock.sql_s += time.perf_counter() - _clock.sql_started


def _public_methods(cls: type) -> list[str]:
    return [
        name
        for name, value in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(value)
    ]


@contextlib.contextmanager
def instrumented(engine: Engine) -> Iterator[None]:
    """Time the engine facade and SQL on ``engine`` while open."""
    saved: list[tuple[Any, str, Any]] = []
    for cls in _FACADE:
        for name in _public_methods(cls):
            saved.append((cls, name, vars(cls)[name]))
            setattr(cls, name, _timed(vars(cls)[name]))
    saved.append((WorkerPool, "run", vars(WorkerPool)["run"]))
    WorkerPool.run = _timed(vars(WorkerPool)["run"])  # type: ignore[method-assign]
    event.listen(engine, "before_cursor_execute", _before)
    event.listen(engine, "after_cursor_execute", _after)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", _before)
        event.remove(engine, "after_cursor_execute", _after)
        for cls, name, original in saved:
            setattr(cls, name, original)
