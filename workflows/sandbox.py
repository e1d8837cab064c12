"""The only place pathway expressions and scripts run.

Every condition, script, timer and payload in an uploaded diagram is code written
by someone we do not fully trust. It is compiled with RestrictedPython (no dunder
access, no imports, guarded attribute and item access), given an explicit whitelist
of builtins and helper *functions* (never a module: a module is a way back to
``sys``), and run under a wall-clock deadline enforced by a line tracer that only
traces sandboxed frames. ``try`` is refused so a script cannot swallow the timeout.
The operators that build big values are guarded; what a single C call could still allocate
(``"x".ljust(10 ** 9)``) is bounded by a memory budget: while sandboxed code runs the
process may grow by at most ``MEMORY_BUDGET_BYTES`` of address space, so such a call fails
with MemoryError instead of exhausting the host.
"""

from __future__ import annotations

import ast
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from types import CodeType, FrameType
from typing import Any, cast

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)

from workflows.clock import run_now
from workflows.errors import SandboxCompileError, SandboxLimitError

SANDBOX_FILENAME = "<pathway-script>"
MAX_SEQUENCE_ITEMS = 100_000
MAX_INT_BITS = 4096
MEMORY_BUDGET_BYTES = 512 * 1024 * 1024

try:  # the memory budget needs POSIX resource limits and Linux's /proc
    import resource
except ImportError:  # pragma: no cover - not on Linux
    resource = None  # type: ignore[assignment]

_state = threading.local()


class SandboxInterrupt(BaseException):
    """Raised inside sandboxed frames when the run's deadline has passed.

    A BaseException so that no ``except Exception`` on the way out (ours or the
    engine's) mistakes it for an ordinary script error and carries on.
    """


_NOT_PROVIDED = {
    "print": "nobody would see its output; record what matters in a task's data.",
    "locals": "name the variables you need.",
    "globals": "name the variables you need.",
    "vars": "name the variables you need.",
    "dir": "name the variables you need.",
    "open": "pathway scripts cannot read files.",
    "input": "pathway scripts cannot ask questions; use a user task.",
    "help": "it is for interactive Python.",
    "breakpoint": "it is for interactive Python.",
}


class _PathwayPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, tightened for pathway scripts."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        # Functions Python has but the sandbox does not give: refused when the file is
        # checked, not for the first patient who reaches the script. (Only calls: a form
        # field may well be called "input".)
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name in _NOT_PROVIDED:
            self.error(node, f"{name}() is not available in pathway scripts: {_NOT_PROVIDED[name]}")
            return node
        return cast(ast.AST, super().visit_Call(node))

    def visit_Try(self, node: ast.Try) -> ast.AST:
        self.error(node, "try/except is not allowed in pathway scripts.")
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, "import is not allowed in pathway scripts; use the provided helpers.")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, "import is not allowed in pathway scripts; use the provided helpers.")
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = cast(ast.BinOp, self.node_contents_visit(node))
        guard = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_"}.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(
            func=ast.Name(id=guard, ctx=ast.Load()), args=[node.left, node.right], keywords=[]
        )
        ast.copy_location(call, node)
        return ast.fix_missing_locations(call)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        if isinstance(node.op, ast.Pow | ast.Mult | ast.LShift):
            self.error(node, "Use x = x * y rather than x *= y in pathway scripts.")
        return cast(ast.AST, super().visit_AugAssign(node))


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise SandboxLimitError("Number too large for a pathway script.")
    return value


def _pow(base: Any, exponent: Any) -> Any:
    too_big = (
        isinstance(base, int)
        and isinstance(exponent, int)
        and abs(base) > 1
        and exponent * max(base.bit_length(), 1) > MAX_INT_BITS
    )
    if too_big:
        raise SandboxLimitError("Number too large for a pathway script.")
    return base**exponent


def _mul(left: Any, right: Any) -> Any:
    for seq, times in ((left, right), (right, left)):
        sequence = isinstance(seq, str | bytes | list | tuple) and isinstance(times, int)
        if sequence and len(seq) * times > MAX_SEQUENCE_ITEMS:
            raise SandboxLimitError("Sequence too large for a pathway script.")
    return _check_int(left * right)


def _lshift(left: Any, right: Any) -> Any:
    if isinstance(right, int) and right > MAX_INT_BITS:
        raise SandboxLimitError("Number too large for a pathway script.")
    return left << right


def _range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_SEQUENCE_ITEMS:
        raise SandboxLimitError("range() too large for a pathway script.")
    return result


def _inplace(op: str, left: Any, right: Any) -> Any:
    # Only the operators RestrictedPython delegates here and we allow (see visit_AugAssign).
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
    }
    if op not in operations:
        raise SandboxLimitError(f"Operator {op} is not allowed in pathway scripts.")
    result = operations[op](left, right)
    if isinstance(result, str | list | tuple) and len(result) > MAX_SEQUENCE_ITEMS:
        raise SandboxLimitError("Sequence too large for a pathway script.")
    return _check_int(result)


_BUILTIN_NAMES = (
    "abs all any bool dict divmod enumerate filter float int isinstance len list map max "
    "min reversed round set sorted str sum tuple zip"
).split()
_EXCEPTIONS = "ArithmeticError KeyError IndexError TypeError ValueError ZeroDivisionError".split()


def _builtins() -> dict[str, Any]:
    import builtins

    table: dict[str, Any] = {name: getattr(builtins, name) for name in _BUILTIN_NAMES}
    table.update({name: getattr(builtins, name) for name in _EXCEPTIONS})
    table.update({"None": None, "True": True, "False": False, "range": _range, "pow": _pow})
    return table


_GUARDS: dict[str, Any] = {
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplace,
    "_pow_": _pow,
    "_mul_": _mul,
    "_lshift_": _lshift,
}


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> CodeType:
    """Compile one expression under the sandbox policy, or raise SandboxCompileError."""
    result = compile_restricted_eval(source, filename=SANDBOX_FILENAME, policy=_PathwayPolicy)
    if result.errors or result.code is None:
        raise SandboxCompileError("; ".join(result.errors) or "Not a valid expression.")
    return result.code


@lru_cache(maxsize=4096)
def compile_script(source: str) -> CodeType:
    """Compile one script under the sandbox policy, or raise SandboxCompileError."""
    result = compile_restricted_exec(source, filename=SANDBOX_FILENAME, policy=_PathwayPolicy)
    if result.errors or result.code is None:
        raise SandboxCompileError("; ".join(result.errors) or "Not a valid script.")
    return result.code


def sandbox_names() -> frozenset[str]:
    """The builtins every pathway script and expression may use."""
    return frozenset(_builtins())


def calls_not_provided(source: str, mode: str, helpers: frozenset[str]) -> list[str]:
    """Names a script or expression calls that nothing will provide when it runs: not a
    builtin the sandbox gives, not one of ``helpers``, not defined by the script itself.
    Task data is plain JSON, so such a call can only fail, for the first patient who gets
    there. (Compile the source first: this assumes it is valid Python.)"""
    tree = ast.parse(source, mode=mode)
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.Lambda):
            if isinstance(node, ast.FunctionDef):
                defined.add(node.name)
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                defined.add(arg.arg)
            for extra in (arguments.vararg, arguments.kwarg):
                if extra is not None:
                    defined.add(extra.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            defined.add(node.id)
    known = sandbox_names() | helpers | defined
    missing = []
    for node in ast.walk(tree):
        called = (
            node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None
        )
        if called and called not in known and called not in missing:
            missing.append(called)
    return missing


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Give every sandboxed frame run in this thread inside the block a shared deadline."""
    previous = getattr(_state, "deadline", None)
    _state.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _state.deadline = previous


def check_deadline() -> None:
    """Raise SandboxInterrupt when the current run's deadline has passed."""
    deadline = getattr(_state, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise SandboxInterrupt


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


@contextmanager
def memory_budget(extra_bytes: int = MEMORY_BUDGET_BYTES) -> Iterator[None]:
    """Let the process grow by at most ``extra_bytes`` of address space inside the block
    (the outermost block wins when runs nest). The limit is the process's, so it is lifted
    as soon as the sandboxed code returns; web workers run one request at a time."""
    current = _address_space() if resource is not None else None
    if current is None or getattr(_state, "budget", False):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = current + extra_bytes
    for ceiling in (soft, hard):
        if ceiling != resource.RLIM_INFINITY:
            limit = min(limit, ceiling)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    _state.budget = True
    try:
        yield
    except MemoryError:
        raise SandboxLimitError("The script needed more memory than a pathway may use.") from None
    finally:
        _state.budget = False
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _run_traced(code: CodeType, namespace: dict[str, Any]) -> Any:
    with memory_budget():
        return _run_within_deadline(code, namespace)


def _run_within_deadline(code: CodeType, namespace: dict[str, Any]) -> Any:
    check_deadline()
    deadline = getattr(_state, "deadline", None)
    if deadline is None:
        return eval(code, namespace)  # noqa: S307 - restricted code object, see module docstring

    def local_trace(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise SandboxInterrupt
        return local_trace

    def global_trace(frame: FrameType, event: str, arg: Any) -> Any:
        return local_trace if frame.f_code.co_filename == SANDBOX_FILENAME else None

    previous = sys.gettrace()
    sys.settrace(global_trace)
    try:
        return eval(code, namespace)  # noqa: S307 - restricted code object
    finally:
        sys.settrace(previous)


# How many values (each list item, each dict key and value, counted again wherever a list or
# dict is shared) one variable a script leaves may hold. ``x = [x, x]`` 24 times is 24 small
# lists in memory and 16 million items once written out: it is refused here, before any
# JSON is made of it.
MAX_DATA_ITEMS = 100_000


def data_items(value: Any, limit: int = MAX_DATA_ITEMS) -> int:
    """How many values ``value`` holds once written out, counting at most ``limit + 1``."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        count += 1
        if count > limit:
            return count
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return count


def _json_safe(name: str, value: Any) -> Any:
    """Task data must stay plain JSON: refuse anything else a script tries to leave behind."""
    if data_items(value) > MAX_DATA_ITEMS:
        raise SandboxLimitError(
            f"Variable '{name}' holds more than {MAX_DATA_ITEMS:,} values, "
            "more than a pathway may keep."
        )
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise SandboxLimitError(
            f"Variable '{name}' holds a {type(value).__name__}, which cannot be stored."
        ) from None
    return value


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that runs everything restricted."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]] | None = None):
        super().__init__({})
        self._builtins = _builtins()
        self._helpers = dict(helpers or {})
        for name, helper in self._helpers.items():
            if not callable(helper) or isinstance(helper, type):
                raise TypeError(f"Sandbox helper {name} must be a plain function")

    def _namespace(self, context: Mapping[str, Any], external: Mapping[str, Any] | None) -> dict:
        namespace: dict[str, Any] = {"__builtins__": self._builtins, **_GUARDS}
        namespace.update(self._helpers)
        namespace.update(external or {})
        namespace.update(context)
        return namespace

    def evaluate(self, expression: str, context: dict, external_context: Any = None) -> Any:
        code = compile_expression(expression)
        return _run_traced(code, self._namespace(context, external_context))

    def execute(self, script: str, context: dict, external_context: Any = None) -> bool:
        code = compile_script(script)
        namespace = self._namespace(context, external_context)
        _run_traced(code, namespace)
        # Helpers are callables and data never is, so a data key that shadows a helper survives.
        reserved = set(_GUARDS) | set(external_context or {})
        results = {
            name: _json_safe(name, value)
            for name, value in namespace.items()
            if name != "__builtins__" and name not in reserved and not callable(value)
        }
        for name in set(context) - set(results):
            del context[name]
        context.update(results)
        return True

    def call_service(self, context: dict, **kwargs: Any) -> Any:
        raise SandboxCompileError("Service tasks are not supported by this engine.")


def default_helpers() -> dict[str, Callable[..., Any]]:
    """The small, tested functions a pathway script may call. ``today()`` is the date of
    the engine run in progress, in the zone of the clock the application gave the engine."""
    from datetime import date, timedelta

    def today() -> str:
        return run_now().date().isoformat()

    def add_days(iso_date: str, days: int) -> str:
        return (date.fromisoformat(iso_date) + timedelta(days=int(days))).isoformat()

    def days_between(start: str, end: str) -> int:
        return (date.fromisoformat(end) - date.fromisoformat(start)).days

    def age_on(birth_date: str, on_date: str) -> int:
        """Whole years from a date of birth to a date (birthdays on 29 February count from
        1 March in other years)."""
        born, day = date.fromisoformat(birth_date), date.fromisoformat(on_date)
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def is_number(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    def floor(value: float) -> int:
        return math.floor(value)

    return {
        "today": today,
        "add_days": add_days,
        "days_between": days_between,
        "age_on": age_on,
        "is_number": is_number,
        "floor": floor,
    }
