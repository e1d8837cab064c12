"""Answers a test run gives a form, chosen from its JSON Schema.

The first answer set is the form's ordinary answer: its ``examples``, else the first option,
No, the lowest number, today (a date to come: four weeks from today). The others change one
question at a time, and only questions the pathway's code mentions (a field no condition or
script reads cannot change a path): every other option, Yes, the lowest and highest numbers
and those either side of each number the code compares with, an empty checklist and each
option the code names, and, for a question that may be left blank, leaving it blank.
Answers respect ``x-show-if``: a question is answered only when the answers shown ask it,
and changing a revealed question first gives the answer that reveals it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from referencing.exceptions import Unresolvable

from workflows.form_lint import safe_validator

FUTURE_DAYS = 28  # a date to come (a re-offer, a review): four weeks on
MAX_NUMBERS = 4
_OMIT = object()


@dataclass(frozen=True)
class AnswerSet:
    answers: dict[str, Any]
    # What differs from the ordinary answers, for the path: "offer=02", "reoffer_on blank".
    changes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        return ", ".join(self.changes)


@dataclass(frozen=True)
class CodeMentions:
    """What the pathway's code mentions: names, string constants and numbers."""

    names: frozenset[str] = frozenset()
    strings: frozenset[str] = frozenset()
    numbers: frozenset[float] = frozenset()


def answer_sets(schema: Any, today: date, mentions: CodeMentions) -> list[AnswerSet]:
    """The ordinary answers first, then one set per other answer that could change a path."""
    properties = _properties(schema)
    if not properties:
        return [AnswerSet({})]
    required = _required(schema)
    try:  # never fetches: the form's own ``#`` fragments only (workflows/form_lint.py)
        validator: Any = safe_validator(schema)
    except Exception:  # a form the lint refused: take the answers as they come
        validator = None
    ordinary = _settle(properties, {}, today)
    found = [AnswerSet(ordinary)]
    seen = {_fingerprint(ordinary)}
    for name, prop in properties.items():
        if name not in mentions.names and name not in mentions.strings:
            continue
        current = ordinary.get(name, _OMIT)
        for value in _alternatives(name, prop, current, required, mentions):
            forced = _reveal(properties, name, ordinary)
            forced[name] = value
            answers = _settle(properties, forced, today)
            if value is not _OMIT and name not in answers:
                continue  # it cannot be asked with these answers
            key = _fingerprint(answers)
            if key in seen or (validator is not None and not _valid(validator, answers)):
                continue  # the same as another, or not answers the form would accept
            seen.add(key)
            found.append(AnswerSet(answers, _changes(ordinary, answers, name)))
    return found


def _valid(validator: Any, answers: Mapping[str, Any]) -> bool:
    """Whether the form accepts the answers; a form whose ``$ref`` leaves it or loops (one
    the lint refused) accepts none but its ordinary answers."""
    try:
        return bool(validator.is_valid(answers))
    except (Unresolvable, RecursionError):
        return False


def _properties(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        return {}
    properties = schema.get("properties")
    return dict(properties) if isinstance(properties, Mapping) else {}


def _required(schema: Mapping[str, Any]) -> set[str]:
    """Always required fields (a field required only under some answers may be blank)."""
    required = schema.get("required")
    return {str(name) for name in required} if isinstance(required, list) else set()


def _options(prop: Mapping[str, Any]) -> list[Any]:
    if isinstance(prop.get("oneOf"), list):
        return [o["const"] for o in prop["oneOf"] if isinstance(o, Mapping) and "const" in o]
    if isinstance(prop.get("enum"), list):
        return list(prop["enum"])
    if "const" in prop:
        return [prop["const"]]
    return []


def _type(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return str(kind or "")


def _ordinary(prop: Mapping[str, Any], today: date) -> Any:
    examples = prop.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    options = _options(prop)
    if options:
        return options[0]
    kind = _type(prop)
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        low = prop.get("minimum", prop.get("exclusiveMinimum", 0))
        return int(low) if kind == "integer" and isinstance(low, int | float) else low
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), Mapping) else {}
        choices = _options(items or {})
        least = prop.get("minItems", 1)
        return choices[: max(1, int(least) if isinstance(least, int) else 1)]
    if kind == "object":
        return {}
    if prop.get("format") == "date":
        return _date(prop, today).isoformat()
    if prop.get("format") == "date-time":
        return f"{today.isoformat()}T09:00:00+00:00"
    text = "Test entry"
    most = prop.get("maxLength")
    least = prop.get("minLength")
    if isinstance(least, int) and least > len(text):
        text = text + "x" * (least - len(text))
    if isinstance(most, int):
        text = text[: max(most, 0)]
    return text


def _date(prop: Mapping[str, Any], today: date) -> date:
    return today + timedelta(days=FUTURE_DAYS) if prop.get("x-date") == "future" else today


def _alternatives(
    name: str,
    prop: Mapping[str, Any],
    ordinary: Any,
    required: set[str],
    mentions: CodeMentions,
) -> Iterator[Any]:
    kind = _type(prop)
    options = _options(prop)
    if options:
        yield from (o for o in options if o != ordinary)
    elif kind == "boolean":
        yield from (v for v in (True, False) if v != ordinary)
    elif kind in ("integer", "number"):
        yield from (v for v in _numbers(prop, kind, mentions.numbers) if v != ordinary)
    elif kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), Mapping) else {}
        choices = _options(items or {})
        if not prop.get("minItems"):
            yield []
        for choice in choices:
            if isinstance(choice, str) and choice in mentions.strings:
                yield [choice]
        if choices:
            yield choices
    if name not in required:
        yield _OMIT


def _numbers(prop: Mapping[str, Any], kind: str, mentioned: Collection[float]) -> list[Any]:
    low = prop.get("minimum")
    high = prop.get("maximum")
    candidates: list[float] = []
    for value in (low, high):
        if isinstance(value, int | float):
            candidates.append(value)
    if low is None or high is None:  # no range: either side of what the code compares with
        for constant in sorted(mentioned):
            for value in (constant - 1, constant):
                if (low is None or value >= low) and (high is None or value <= high):
                    candidates.append(value)
    result: list[Any] = []
    for value in candidates:
        number = int(value) if kind == "integer" else value
        if number not in result:
            result.append(number)
    # The lowest and highest are either side of any threshold between them.
    return result[:MAX_NUMBERS]


def _shown(prop: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    rule = prop.get("x-show-if")
    if not isinstance(rule, Mapping) or "field" not in rule:
        return True
    value = answers.get(str(rule["field"]), _OMIT)
    if "equals" in rule:
        return bool(value == rule["equals"])
    if isinstance(rule.get("in"), list):
        return value in rule["in"]
    return True


def _settle(properties: Mapping[str, Any], forced: Mapping[str, Any], today: date) -> dict:
    """Answers to every question the answers ask (``forced`` where given), none to others."""
    answers: dict[str, Any] = {}
    for _ in range(len(properties) + 1):
        changed = False
        for name, prop in properties.items():
            prop = prop if isinstance(prop, Mapping) else {}
            value = forced[name] if name in forced else _ordinary(prop, today)
            if not _shown(prop, answers) or value is _OMIT:
                if name in answers:
                    del answers[name]
                    changed = True
            elif answers.get(name, _OMIT) != value:
                answers[name] = value
                changed = True
        if not changed:
            break
    return answers


def _reveal(properties: Mapping[str, Any], name: str, ordinary: Mapping[str, Any]) -> dict:
    """The answers that make ``name`` asked: its revealing answer, and that one's, first."""
    forced: dict[str, Any] = {}
    current = name
    for _ in range(len(properties)):
        prop = properties.get(current)
        rule = prop.get("x-show-if") if isinstance(prop, Mapping) else None
        if not isinstance(rule, Mapping) or "field" not in rule:
            break
        controller = str(rule["field"])
        if _shown({"x-show-if": rule}, {**ordinary, **forced}):
            break
        if "equals" in rule:
            forced[controller] = rule["equals"]
        elif isinstance(rule.get("in"), list) and rule["in"]:
            forced[controller] = rule["in"][0]
        else:
            break
        current = controller
    return forced


def _fingerprint(answers: Mapping[str, Any]) -> str:
    return json.dumps(answers, sort_keys=True, default=str)


def _changes(
    ordinary: Mapping[str, Any], answers: Mapping[str, Any], changed: str
) -> tuple[str, ...]:
    """The answers that differ from the ordinary ones (questions the change hides are not
    listed: they are simply not asked)."""
    changes = [
        f"{name}={_short(value)}"
        for name, value in answers.items()
        if ordinary.get(name, _OMIT) != value
    ]
    if changed not in answers:
        changes.append(f"{changed} blank")
    return tuple(changes)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."
