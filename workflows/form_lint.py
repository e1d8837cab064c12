"""Forms are data, never fetches: the safe JSON Schema validator and the upload checks.

A form is a JSON Schema the server checks every answer against, so what a schema can make
the server do is part of the attack surface:

- ``$ref`` is resolved by a ``referencing`` registry that holds the form itself and nothing
  else: ``#`` and ``#/...`` fragments resolve inside the same schema; any other address
  (``http:``, ``https:``, ``urn:``, ``file:``, another file name) is refused without being
  fetched or opened. The upload check refuses such references, and self-referencing or
  cyclic ones, naming the form file and the JSON pointer.
- Every array has ``maxItems`` and every free string ``maxLength`` (the upload check requires
  them); at submission, an array longer than its limit is not looked into (no ``items``,
  ``uniqueItems`` or ``contains`` work on it) and ``uniqueItems`` is checked in one pass
  (each item's canonical JSON in a set), so a 20,000-item answer costs one length check.
- Every ``pattern`` is checked at upload for catastrophic backtracking (a repeated group that
  itself repeats or branches, back-references, more than two long repeats, too long) and at
  submission is only run on a string within its ``maxLength`` (no time guard: the length
  limit and the static check bound the work).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping

# The regex parser the ``re`` module itself uses (Python 3.11+).
from re import _constants as _sre_constants  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from workflows.errors import Problem

# Above these, an answer is refused even by a form that set no limit (a pathway published
# before the limits were required), and the upload check refuses larger limits.
HARD_MAX_ITEMS = 1000
HARD_MAX_LENGTH = 20000
# ``uniqueItems`` only with a ``maxItems`` at most this; enums and option lists at most this.
MAX_UNIQUE_ITEMS = 100
MAX_OPTIONS = 500
# Patterns: at most this long, at most this many long repeats (more than SHORT_REPEAT times,
# unbounded included: two overlapping ones on 500 characters take about 0.1 s, three take
# 13 s), and only on strings
# whose ``maxLength`` is at most MAX_PATTERN_SUBJECT.
MAX_PATTERN_LENGTH = 200
MAX_LONG_REPEATS = 2
SHORT_REPEAT = 10
MAX_PATTERN_SUBJECT = 500

# More references than this are refused (the cycle check is quadratic in them).
MAX_REFS = 200

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Keywords whose value is one schema, a map of schemas, or a list of schemas: the walk goes
# only through these, so data (enum, const, examples, x-show-if) is never taken for schema.
_ONE = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
    "contentSchema",
)
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")


def _refuse(uri: str) -> Resource[Any]:
    """Every retrieval: a ``$ref`` to anything but the form itself is never fetched or
    opened."""
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


def registry() -> Registry[Any]:
    """A registry that retrieves nothing: the validator resolves ``#`` fragments in the form
    it checks (its root) and the JSON Schema metaschemas, which ship with ``jsonschema``."""
    return Registry(retrieve=_refuse)  # type: ignore[call-arg]


# -- the submission-time validator ------------------------------------------------------------


def _limit(schema: Mapping[str, Any], keyword: str, hard: int) -> int:
    value = schema.get(keyword)
    return min(value, hard) if isinstance(value, int) and not isinstance(value, bool) else hard


def too_long(schema: Mapping[str, Any], instance: Any) -> bool:
    """An array past its ``maxItems`` (or the hard limit): nothing looks inside it."""
    return isinstance(instance, list) and len(instance) > _limit(schema, "maxItems", HARD_MAX_ITEMS)


def _canonical(item: Any) -> str:
    """One item as canonical JSON, equal for items JSON Schema calls equal (1 and 1.0)."""
    return json.dumps(_normal(item), sort_keys=True, separators=(",", ":"))


def _normal(item: Any) -> Any:
    if isinstance(item, float) and item.is_integer():
        return int(item)
    if isinstance(item, list):
        return [_normal(i) for i in item]
    if isinstance(item, dict):
        return {str(k): _normal(v) for k, v in item.items()}
    return item


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not unique or not validator.is_type(instance, "array") or too_long(schema, instance):
        return
    seen: set[str] = set()
    for item in instance:
        try:
            key = _canonical(item)
        except (TypeError, ValueError, RecursionError):
            key = repr(item)
        if key in seen:
            yield ValidationError("has the same answer more than once")
            return
        seen.add(key)


def _unless_too_long(keyword: str) -> Any:
    original = Draft202012Validator.VALIDATORS[keyword]

    def guarded(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if too_long(schema, instance):
            return  # maxItems (or the hard limit) says so; the items are not looked at
        yield from original(validator, value, instance, schema)

    return guarded


def _max_items(validator: Any, most: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "array") and len(instance) > most:
        yield ValidationError(f"has more than {most} items")


def _max_length(validator: Any, most: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and len(instance) > most:
        yield ValidationError(f"is longer than {most} characters")


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "string"):
        return
    if len(instance) > _limit(schema, "maxLength", HARD_MAX_LENGTH):
        return  # maxLength (or the hard limit) says so; the pattern is not run on it
    if not re.search(pattern, instance):
        yield ValidationError("does not match the pattern")


def _type(validator: Any, kinds: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """The ordinary ``type`` check, then the hard limits where the form sets none as tight."""
    yield from Draft202012Validator.VALIDATORS["type"](validator, kinds, instance, schema)
    own_items = _limit(schema, "maxItems", HARD_MAX_ITEMS + 1)
    if isinstance(instance, list) and len(instance) > HARD_MAX_ITEMS < own_items:
        yield ValidationError(
            f"has more than {HARD_MAX_ITEMS} items",
            validator="maxItems",
            validator_value=HARD_MAX_ITEMS,
        )
    own_length = _limit(schema, "maxLength", HARD_MAX_LENGTH + 1)
    if isinstance(instance, str) and len(instance) > HARD_MAX_LENGTH < own_length:
        yield ValidationError(
            f"is longer than {HARD_MAX_LENGTH} characters",
            validator="maxLength",
            validator_value=HARD_MAX_LENGTH,
        )


_SafeValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    {
        "type": _type,
        "maxItems": _max_items,
        "maxLength": _max_length,
        "uniqueItems": _unique_items,
        "pattern": _pattern,
        "items": _unless_too_long("items"),
        "prefixItems": _unless_too_long("prefixItems"),
        "contains": _unless_too_long("contains"),
        "unevaluatedItems": _unless_too_long("unevaluatedItems"),
    },
)


def safe_validator(schema: Any, format_checker: FormatChecker | None = None) -> Any:
    """A Draft 2020-12 validator for a form that never fetches or opens anything (see the
    module's docstring). An unresolvable ``$ref`` raises ``referencing`` 's ``Unresolvable``
    when met, and a self-referencing one ``RecursionError``: callers refuse the answers."""
    return _SafeValidator(schema, registry=registry(), format_checker=format_checker)


# -- the upload checks ----------------------------------------------------------------------


def _pointer(parts: tuple[str, ...]) -> str:
    """The JSON pointer of a place in the form ("/properties/services")."""
    if not parts:
        return "the top level"
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _subschemas(schema: Any, at: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every schema in the form with its JSON pointer parts, the form itself first."""
    if not isinstance(schema, Mapping):
        return
    yield at, schema
    for key in _ONE:
        if key in schema:
            yield from _subschemas(schema[key], (*at, key))
    for key in _MAP:
        if isinstance(schema.get(key), Mapping):
            for name, sub in schema[key].items():
                yield from _subschemas(sub, (*at, key, str(name)))
    for key in _LIST:
        if isinstance(schema.get(key), list):
            for i, sub in enumerate(schema[key]):
                yield from _subschemas(sub, (*at, key, str(i)))


def _question(parts: tuple[str, ...]) -> str:
    """The question a pointer is in: 'services' for /properties/services/items."""
    if len(parts) >= 2 and parts[0] == "properties":
        return f"question '{parts[1]}'"
    return "the form"


def _resolve(schema: Any, fragment: str) -> tuple[tuple[str, ...], Any] | None:
    """The schema a ``#/...`` fragment points to, with its pointer parts; None if nothing."""
    if fragment in ("", "/"):
        return (), schema
    if not fragment.startswith("/"):
        return None
    node, parts = schema, []
    for raw in fragment[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        parts.append(part)
    return tuple(parts), node


def _reference_problems(name: str, schema: Any) -> list[Problem]:
    problems: list[Problem] = []
    refs: dict[tuple[str, ...], tuple[str, ...]] = {}  # where a $ref is -> where it points

    def refuse(parts: tuple[str, ...], text: str) -> None:
        problems.append(Problem(f"{text} (at {_pointer(parts)}).", file=name))

    for parts, sub in _subschemas(schema):
        for keyword in ("$dynamicRef", "$recursiveRef", "$id"):
            if keyword in sub:
                refuse(
                    (*parts, keyword),
                    f"Form {name}: {_question(parts)} uses {keyword}, which forms may not "
                    "use: refer to a definition in the same form with "
                    '"$ref": "#/$defs/..."',
                )
        dialect = sub.get("$schema")
        if dialect is not None and dialect != DIALECT:
            refuse(
                (*parts, "$schema"),
                f"Form {name}: $schema must be {DIALECT}, not {str(dialect)[:80]!r}",
            )
        if "$ref" not in sub:
            continue
        ref = sub["$ref"]
        where = (*parts, "$ref")
        if not isinstance(ref, str) or not ref.startswith("#"):
            scheme = str(ref).split(":", 1)[0].lower() if ":" in str(ref) else ""
            kind = {
                "http": "a web address",
                "https": "a web address",
                "file": "a file on the server",
                "urn": "a name outside the pathway",
            }.get(scheme, "something outside this form")
            refuse(
                where,
                f"Form {name}: {_question(parts)} refers to {kind} ({str(ref)[:80]!r}); a "
                "form is checked on its own and fetches nothing, so it may only refer to "
                'its own definitions, like "$ref": "#/$defs/choice"',
            )
            continue
        target = _resolve(schema, ref[1:])
        if target is None:
            refuse(
                where,
                f"Form {name}: {_question(parts)} refers to {ref!r}, which is not in the form",
            )
            continue
        refs[parts] = target[0]
    if len(refs) > MAX_REFS:
        problems.append(
            Problem(f"Form {name} has {len(refs)} $ref references; at most {MAX_REFS}.", file=name)
        )
    else:
        problems.extend(_cycles(name, refs))
    return problems


def _cycles(name: str, refs: Mapping[tuple[str, ...], tuple[str, ...]]) -> list[Problem]:
    """A ``$ref`` that leads back to itself (directly, through an enclosing schema, or through
    other references) would recurse for ever: every such reference is refused. Recursive
    schemas (trees of answers) are refused with them: a form's answers are flat."""

    def inside(place: tuple[str, ...], target: tuple[str, ...]) -> bool:
        return place[: len(target)] == target

    def leads_to(start: tuple[str, ...]) -> set[tuple[str, ...]]:
        reached: set[tuple[str, ...]] = set()
        todo = [refs[start]]
        while todo:
            target = todo.pop()
            for place, nxt in refs.items():
                if inside(place, target) and place not in reached:
                    reached.add(place)
                    todo.append(nxt)
        return reached

    problems = []
    for place in refs:
        if place in leads_to(place):
            problems.append(
                Problem(
                    f"Form {name}: the $ref at {_pointer((*place, '$ref'))} leads back to "
                    "itself, so checking an answer would never end; refer to a definition "
                    "that does not contain the reference.",
                    file=name,
                )
            )
    return problems


def _kinds(sub: Mapping[str, Any]) -> set[str]:
    kind = sub.get("type")
    if isinstance(kind, str):
        return {kind}
    return {str(k) for k in kind} if isinstance(kind, list) else set()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _limit_problems(name: str, schema: Any) -> list[Problem]:
    problems: list[Problem] = []

    def refuse(parts: tuple[str, ...], text: str) -> None:
        problems.append(
            Problem(f"Form {name}: {_question(parts)} {text} (at {_pointer(parts)}).", file=name)
        )

    for parts, sub in _subschemas(schema):
        kinds = _kinds(sub)
        # An ``x-user-role`` answer must be an active account's name: bounded like an enum
        # (the runtime's hard limit still applies).
        bounded = any(k in sub for k in ("enum", "const", "x-user-role")) or (
            isinstance(sub.get("oneOf"), list)
            and all(isinstance(o, Mapping) and "const" in o for o in sub["oneOf"])
        )
        for keyword in ("enum", "oneOf", "anyOf"):
            options = sub.get(keyword)
            if isinstance(options, list) and len(options) > MAX_OPTIONS:
                refuse(parts, f"has {len(options)} {keyword} options; at most {MAX_OPTIONS}")
        if "string" in kinds and not bounded and sub.get("format") not in ("date", "date-time"):
            most = sub.get("maxLength")
            if not _is_int(most):
                refuse(
                    parts,
                    'needs "maxLength": the most characters an answer may have (2000 for '
                    "free text, 200 for a name)",
                )
            elif most > HARD_MAX_LENGTH:
                refuse(parts, f"allows {most} characters; at most {HARD_MAX_LENGTH}")
        if "array" in kinds:
            most = sub.get("maxItems")
            if not _is_int(most):
                refuse(
                    parts,
                    'needs "maxItems": the most answers it takes (the number of options, '
                    "or e.g. 50)",
                )
            elif most > HARD_MAX_ITEMS:
                refuse(parts, f"allows {most} items; at most {HARD_MAX_ITEMS}")
        if sub.get("uniqueItems") is True:
            most = sub.get("maxItems")
            # (no maxItems on an array is said above, once)
            if (_is_int(most) and most > MAX_UNIQUE_ITEMS) or (
                not _is_int(most) and "array" not in kinds
            ):
                refuse(
                    parts,
                    f'has "uniqueItems" so needs "maxItems" of at most {MAX_UNIQUE_ITEMS}, '
                    "so checking that no answer repeats stays cheap",
                )
        patterns = [((*parts, "pattern"), sub["pattern"])] if "pattern" in sub else []
        if isinstance(sub.get("patternProperties"), Mapping):
            patterns += [((*parts, "patternProperties"), p) for p in sub["patternProperties"]]
        for where, pattern in patterns:
            trouble = pattern_problem(pattern)
            if trouble:
                refuse(where, f"has the pattern {str(pattern)[:80]!r}: {trouble}")
        if "pattern" in sub:
            most = sub.get("maxLength")
            if not _is_int(most) or most > MAX_PATTERN_SUBJECT:
                refuse(
                    parts,
                    f'has a "pattern" so needs "maxLength" of at most {MAX_PATTERN_SUBJECT}',
                )
    return problems


def pattern_problem(pattern: Any) -> str | None:
    """Why a pattern could backtrack catastrophically (or cannot be used), or None.

    Conservative and static: the parsed regex may not repeat a group that itself repeats or
    branches (``(a+)+``, ``(a|ab)*``, ``(.*)*``), may not use back-references, may have at
    most MAX_LONG_REPEATS repeats of more than SHORT_REPEAT and MAX_PATTERN_LENGTH characters."""
    if not isinstance(pattern, str):
        return "a pattern must be text"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"a pattern may have at most {MAX_PATTERN_LENGTH} characters"
    try:
        parsed = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as error:
        return f"it is not a valid regular expression ({error})"
    long_repeats = 0
    repeats = (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT)
    for op, av in _walk(parsed):
        if op in repeats:
            _low, high, body = av
            if high > SHORT_REPEAT:
                long_repeats += 1
            if (high > SHORT_REPEAT and _risky_body(body, 1)) or (
                high > 1 and _risky_body(body, SHORT_REPEAT)
            ):
                return (
                    "it repeats a group that itself repeats or has alternatives, which can "
                    "take minutes on a short answer; write it without the nested repeat"
                )
        if op in (_sre_constants.GROUPREF, _sre_constants.GROUPREF_EXISTS):
            return "back-references are not allowed in form patterns"
    if long_repeats > MAX_LONG_REPEATS:
        return (
            f"it has {long_repeats} repeats of more than {SHORT_REPEAT} (like + or *); "
            f"at most {MAX_LONG_REPEATS}, or an answer of a few hundred characters can take "
            "seconds to check"
        )
    return None


def _items(av: Any) -> list[Any]:
    """The sub-patterns inside one regex node."""
    if isinstance(av, _sre_parse.SubPattern):
        return [av]
    if isinstance(av, tuple | list):
        found: list[Any] = []
        for part in av:
            found += _items(part)
        return found
    return []


def _walk(pattern: Any) -> Iterator[tuple[Any, Any]]:
    """Every node of a parsed regex, nested ones included."""
    for op, av in pattern:
        yield op, av
        for sub in _items(av):
            yield from _walk(sub)


def _risky_body(body: Any, most: int) -> bool:
    """A repeated body that repeats more than ``most`` times inside or branches (a single
    character set does not). A group repeated a few times (``(\\d{1,3}\\.){3}``) may hold
    bounded repeats; one repeated without bound may hold neither."""
    for op, av in _walk(body):
        if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT) and av[1] > most:
            return True
        if op == _sre_constants.BRANCH and most == 1:
            return True
    return False


def form_problems(name: str, schema: Any) -> list[Problem]:
    """Everything unsafe in one form (valid JSON Schema already): references that leave the
    form or loop, missing or excessive limits, patterns that can backtrack for ever. A form
    that is not an object with properties is refused for that alone (``lint.load_forms``)."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping):
        return []
    try:
        return _reference_problems(name, schema) + _limit_problems(name, schema)
    except RecursionError:
        return [
            Problem(f"Form {name} is nested too deeply to check: flatten its questions.", file=name)
        ]
