"""The bounds the lint holds an uploaded pathway to, checked before anything is compiled.

Each limit keeps an upload (or the first patient to reach a shape) from costing the service
more than a pathway could ever need: expressions too long or too deep to compile safely,
numbers too long to print, timers years away, loops that open thousands of tasks, names too
long for the columns the application stores them in. docs/pathway-authoring.md lists them.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jinja2 import TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

# Pathway code: one expression or script.
MAX_EXPRESSION_CHARS = 10_000
MAX_INT_DIGITS = 20
# Nesting of the code's syntax tree (a sum of 260 terms is 260 deep; the compiler's own
# recursion gives out near 250).
MAX_EXPRESSION_DEPTH = 100
# Instructions (Jinja templates).
MAX_TEMPLATE_CHARS = 20_000
# Multi-instance cardinality, a standard loop's loopMaximum, a cycle timer's repetitions.
MAX_LOOP = 50
# Timers: a duration from 0 to ten years; a date (written, or computed by a helper such as
# working_days_from_now or morning_of) between these two instants; a number given to a
# helper (days, working days) at most ten years' worth.
MAX_TIMER_DAYS = 3653
EARLIEST_TIMER_DATE = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIMER_DATE = datetime(2100, 1, 1, tzinfo=UTC)

# Names the application stores, and the length of the column each goes to (mdt/models:
# human_task, pathway_timer, pathway_version, episode, closing_event); a test compares these
# with the models.
COLUMN_LENGTHS: Mapping[str, int] = {
    "process_id": 200,  # pathway_version.process_id, human_task.process_id
    "task_id": 200,  # human_task.bpmn_id
    "task_name": 300,  # human_task.name
    "lane": 200,  # human_task.lane
    "form": 200,  # human_task.form
    "standards": 200,  # human_task.standards
    "mdt_step": 32,  # human_task.mdt_step
    "timer_name": 300,  # pathway_timer.event_name
    "message_name": 100,  # episode.message, closing_event.event_name
    "message_label": 200,  # episode.label
    "episode": 40,  # episode.kind
    "closes": 32,  # pathway_instance.close_reason, closing_event.reason
}

_DIGITS = re.compile(r"[0-9][0-9_]*")
_TEMPLATES = ImmutableSandboxedEnvironment(autoescape=False)


def _longest_number(source: str) -> int:
    """Digits in the longest number literal of ``source`` (strings are not numbers)."""
    longest = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.NUMBER:
                longest = max(longest, sum(ch.isdigit() for ch in token.string))
    except (tokenize.TokenError, SyntaxError, ValueError):  # not Python: look at every digit
        return max((len(m.group().replace("_", "")) for m in _DIGITS.finditer(source)), default=0)
    return longest


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def source_problem(source: str, mode: str = "eval") -> str | None:
    """Why ``source`` is too big to compile, as the end of a sentence, or None. Checked before
    the sandbox compiles it (its compiler recurses, and Python refuses to print numbers of
    more than 4,300 digits)."""
    if len(source) > MAX_EXPRESSION_CHARS:
        return (
            f"is {len(source):,} characters long; pathway code may have at most "
            f"{MAX_EXPRESSION_CHARS:,} characters in one place: split the work into steps"
        )
    digits = _longest_number(source)
    if digits > MAX_INT_DIGITS:
        return (
            f"holds a number of {digits:,} digits; numbers in pathway code may have at most "
            f"{MAX_INT_DIGITS} digits"
        )
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except (SyntaxError, ValueError):
        return None  # the sandbox's compile says what is wrong, with its line
    except (RecursionError, MemoryError):
        return f"is nested too deeply; at most {MAX_EXPRESSION_DEPTH} levels: split it up"
    depth = _depth(tree)
    if depth > MAX_EXPRESSION_DEPTH:
        return (
            f"is nested {depth} levels deep (a sum of many terms is one level per term); at "
            f"most {MAX_EXPRESSION_DEPTH} levels: split it into steps, or use sum() of a list"
        )
    return None


def template_problem(source: str) -> str | None:
    """Why instructions are not a template the service will render, or None. The template is
    parsed only: compiling evaluates its constant parts (``{{ 'a' * 10 ** 9 }}``)."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return (
            f"they are {len(source):,} characters long; instructions may have at most "
            f"{MAX_TEMPLATE_CHARS:,}"
        )
    try:
        parsed = _TEMPLATES.parse(source)
    except TemplateError as error:
        return f"they are not a valid template: {error}"
    except (RecursionError, MemoryError, ValueError):
        return "they are not a valid template: nested too deeply"
    for node in parsed.find_all((nodes.Filter, nodes.Test)):
        table = _TEMPLATES.filters if isinstance(node, nodes.Filter) else _TEMPLATES.tests
        if node.name not in table:
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            return f"they are not a valid template: no {kind} named '{node.name}'"
    return None


def duration_days(parsed: Mapping[str, Any]) -> float:
    """The longest a parsed ISO 8601 duration can last, in days (months of 31 days)."""
    return float(
        parsed.get("years", 0) * 366
        + parsed.get("months", 0) * 31
        + parsed.get("weeks", 0) * 7
        + parsed.get("days", 0)
        + parsed.get("hours", 0) / 24
        + parsed.get("minutes", 0) / 1440
        + parsed.get("seconds", 0) / 86400
    )


def _duration_problem(value: str) -> str | None:
    try:
        parsed = TimerEventDefinition.parse_iso_duration(value)
    except Exception:  # the engine's parser raises a bare Exception
        return f"{value!r} is not a valid ISO 8601 duration"
    days = duration_days(parsed)
    if days > MAX_TIMER_DAYS:
        return (
            f"{value!r} is {days:,.0f} days; a timer may wait at most {MAX_TIMER_DAYS:,} days "
            "(ten years)"
        )
    return None


def _date_problem(value: str, earliest: datetime, latest: datetime) -> str | None:
    try:
        when = TimerEventDefinition.get_datetime(value)
    except (ValueError, OverflowError, TypeError):
        return f"{value!r} is not a valid ISO 8601 date and time"
    if not earliest <= when <= latest:
        return (
            f"{value!r} is outside the dates a timer may wait for "
            f"({earliest:%d %b %Y} to {latest:%d %b %Y})"
        )
    return None


def timer_value_problem(kind: str, value: Any) -> str | None:
    """Why a timer's value (a literal, or what a helper returned) cannot be armed, or None.
    Bounds are checked before the engine's own parsers run (they overflow, or count month
    by month, on "P9000000Y"). The window for dates is fixed, not "now plus ten years", so a
    version checked today passes the same checks when it is loaded again in years to come."""
    if not isinstance(value, str):
        return f"gives {type(value).__name__} {_short(value)}, not an ISO 8601 text"
    if len(value) > 100:
        return f"{_short(value)} is too long for an ISO 8601 {kind[4:].lower()}"
    earliest, latest = EARLIEST_TIMER_DATE, LATEST_TIMER_DATE
    if kind == "timeDuration":
        return _duration_problem(value)
    if kind == "timeDate":
        return _date_problem(value, earliest, latest)
    return _cycle_problem(value, earliest, latest)


def _cycle_problem(value: str, earliest: datetime, latest: datetime) -> str | None:
    parts = value.upper().replace("--", "/").split("/")
    invalid = f'{value!r} is not a valid ISO 8601 repeating interval (e.g. "R3/P1D")'
    if len(parts) not in (2, 3) or not parts[0].startswith("R"):
        return invalid
    count = parts[0][1:]
    if not count.isdigit() or int(count) > MAX_LOOP:
        return (
            f"{value!r} repeats {count or 'without end'}; a cycle timer may "
            f"repeat at most {MAX_LOOP} times: say how many (R3/P1D)"
        )
    for part in parts[1:]:
        problem = (
            _duration_problem(part)
            if part.startswith("P")
            else _date_problem(part, earliest, latest)
        )
        if problem:
            return problem
    try:
        TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:  # the engine's parser raises a bare Exception
        return invalid
    return None


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge number"
    return text if len(text) <= 60 else text[:57] + "..."


def helper_argument_problem(call: ast.Call) -> str | None:
    """A number given to a timer helper outside what a timer may wait (working days or days
    from now): checked before the helper runs, as helpers run untimed."""
    for arg in call.args:
        node = arg.operand if isinstance(arg, ast.UnaryOp) else arg
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
            and abs(node.value) > MAX_TIMER_DAYS
        ):
            return (
                f"gives {_short(node.value)} to {ast.unparse(call.func)}(); a timer may wait at "
                f"most {MAX_TIMER_DAYS:,} days (ten years)"
            )
    return None


def loop_count_problem(text: str | None, what: str) -> str | None:
    """A literal loop count above the cap (a count taken from the task data is capped by the
    engine when it runs)."""
    source = (text or "").strip()
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    node = tree.body
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not 0 <= node.value <= MAX_LOOP
    ):
        return (
            f"{what} {_short(node.value)} is more than a pathway may open for one patient: "
            f"at most {MAX_LOOP}"
        )
    return None


def name_problem(kind: str, value: str | None, what: str) -> str | None:
    """A name longer than the column the application stores it in."""
    limit = COLUMN_LENGTHS[kind]
    if value is not None and len(value) > limit:
        return (
            f"{what} is {len(value):,} characters long; the service stores at most {limit}: "
            "shorten it"
        )
    return None
