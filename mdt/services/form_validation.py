"""Server-side validation of task form data against its JSON Schema, in plain English."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import nhs_number
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing.exceptions import Unresolvable
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import UserModel, UserRoleModel
from mdt.models.roles import Role, role_label
from mdt.services.patient_identity import nhs_digits
from workflows import Problem
from workflows.form_lint import safe_validator

_FORMATS = FormatChecker(formats=("date", "email"))


@_FORMATS.checks("nhs-number")
def _nhs_number_format(value: object) -> bool:
    """``"format": "nhs-number"``: ten digits whose last is the modulus 11 check digit."""
    if not isinstance(value, str):
        return True
    digits = nhs_digits(value)
    return bool(re.fullmatch(r"\d{10}", digits)) and nhs_number.is_valid(digits)


# Numbers beyond this are refused: no clinical answer needs more than 15 significant digits,
# and past them a float no longer holds the number typed.
LARGEST_NUMBER = 10**15

# ``"x-user-role": "cns"`` on a string property: the answer is the display name of an active
# account holding that role (a select of them on the page).
USER_ROLE = "x-user-role"


def _title(schema: Mapping[str, Any], field: str) -> str:
    prop = schema.get("properties", {}).get(field, {})
    return str(prop.get("title") or field.replace("_", " ")).rstrip("?")


def _lower_first(title: str) -> str:
    """'Date of referral' -> 'date of referral'. Only an ordinary capitalised word is
    lowered: acronyms and words with capitals inside keep them ('GP', 'ER', 'HER2',
    'ECOG/WHO', 'HbA1c', 'MDT's')."""
    if not title:
        return title
    first = title.split(" ", 1)[0]
    letters = [ch for ch in first if ch.isalpha()]
    if not letters or not letters[0].isupper() or any(ch.isupper() for ch in letters[1:]):
        return title
    if len(letters) == 1 and len(title.split(" ")) > 1 and title.split(" ")[1][:1].isupper():
        return title  # 'A Lasting Power...' style names keep their capitals
    return title[0].lower() + title[1:]


# Questions answered yes or no become "whether ...": the verb moves after its subject.
_AUXILIARIES = {
    "is",
    "are",
    "was",
    "were",
    "has",
    "have",
    "had",
    "would",
    "will",
    "can",
    "could",
    "should",
}
_PRONOUNS = {"this", "it", "there", "that", "you", "they", "he", "she", "we", "i"}
_MODALS = {"would", "will", "can", "could", "should"}
# Where the verb goes back: before a participle ("been", "told", "discussed"), or "to be";
# failing those, before a word that starts the predicate ("in paid work").
_PARTICIPLES = {"been", "given", "told", "made", "done", "seen", "taken", "known", "being"}
_PREDICATE_STARTS = {"in", "de", "able", "now", "still"}


def whether(question: str) -> str | None:
    """'Is this de novo disease?' -> 'whether this is de novo disease'; 'Has the patient been
    told?' -> 'whether the patient has been told'. None when the question is not one this
    can turn round without getting the English wrong (the caller quotes it instead)."""
    words = question.rstrip("?").split()
    if len(words) < 2 or words[0].lower() not in _AUXILIARIES:
        return None
    verb, rest = words[0].lower(), words[1:]
    if rest[0].lower() in _PRONOUNS:
        at = 1
    elif verb in _MODALS:
        return None  # "Would the family like ...": the verb cannot be told from the rest
    else:
        at = _verb_place(rest)
        if not at:
            return None
    subject = rest[:at]
    if subject[0].lower() in _PRONOUNS:
        subject[0] = subject[0].lower()
    return " ".join(["whether", *subject, verb, *rest[at:]])


def _verb_place(rest: list[str]) -> int:
    for i, word in enumerate(rest[1:], start=1):
        low = word.lower().strip(",")
        if low in _PARTICIPLES or (low.endswith("ed") and word.islower() and len(low) > 3):
            return i
        if low == "to" and i + 1 < len(rest) and rest[i + 1].lower() == "be":
            return i
    return next((i for i, w in enumerate(rest[1:], 1) if w.lower() in _PREDICATE_STARTS), 0)


def _required_message(schema: Mapping[str, Any], field: str) -> str:
    prop = schema.get("properties", {}).get(field, {})
    if prop.get("x-error-required"):
        return str(prop["x-error-required"])
    choice = (
        "enum" in prop
        or "oneOf" in prop
        or USER_ROLE in prop
        or prop.get("type") in ("boolean", "array")
    )
    title = str(prop.get("title") or field.replace("_", " "))
    if title.endswith("?"):
        turned = whether(title) if prop.get("type") == "boolean" or _yes_no(prop) else None
        if turned:
            return f"Select {turned}"
        return f"Select an answer to “{title}”" if choice else f"Answer “{title}”"
    return f"{'Select' if choice else 'Enter'} {_lower_first(title)}"


def _yes_no(prop: Mapping[str, Any]) -> bool:
    """Options that answer a yes/no question (yes, no, not known...)."""
    titles = [str(o.get("title", o.get("const"))).lower() for o in prop.get("oneOf", [])]
    return any(t.startswith("yes") for t in titles) and any(t.startswith("no") for t in titles)


def _message(schema: Mapping[str, Any], error: ValidationError) -> tuple[str, str]:
    if error.validator == "required":
        field = str(error.message).split("'")[1]
        return field, _required_message(schema, field)
    field = str(error.path[0]) if error.path else "_form"
    title = _title(schema, field)
    value = error.validator_value
    messages = {
        "minimum": f"{title} must be {value} or more",
        "maximum": f"{title} must be {value} or less",
        "minLength": f"Enter {_lower_first(title)}"
        if value == 1
        else f"{title} must be at least {value} characters",
        "maxLength": f"{title} must be {value} characters or fewer",
        "enum": f"Select a valid option for {_lower_first(title)}",
        "const": f"Select a valid option for {_lower_first(title)}",
        "oneOf": f"Select a valid option for {_lower_first(title)}",
        "type": f"{title} is not in the right format",
        "format": _format_message(title, str(value)),
        "minItems": f"Select at least {value} for {_lower_first(title)}",
        "maxItems": f"Select no more than {value} for {_lower_first(title)}",
        "uniqueItems": f"{title} has the same answer more than once",
        "pattern": f"{title} is not in the right format"
        + (f": {_example(schema, field)}" if _example(schema, field) else ""),
        "additionalProperties": "The form contained fields it does not have",
    }
    # jsonschema's own messages quote the answer: a long one is cut, never echoed whole.
    said = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return field, messages.get(str(error.validator), f"{title}: {said}")


def _format_message(title: str, format_name: str) -> str:
    if format_name == "date":
        return f"{title} must be a real date"
    if format_name == "nhs-number":
        rule = "10 digits, the last a check digit that matches the others"
        if "nhs number" in title.lower():
            return f"{title} must be {rule}"
        return f"{title} must be a valid NHS number: {rule}"
    if format_name == "email":
        return f"{title} must be an email address, like name@example.nhs.uk"
    return f"{title} is not in the right format"


def number_problem(title: str, value: Any) -> str | None:
    """Why a number cannot be kept: not a number (NaN), infinite, or too long to hold."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and math.isnan(value):
        return f"{title} must be a number"
    if (isinstance(value, float) and math.isinf(value)) or abs(value) >= LARGEST_NUMBER:
        return f"{title} is too large: enter a number with 15 digits or fewer"
    return None


def _example(schema: Mapping[str, Any], field: str) -> str:
    examples = schema.get("properties", {}).get(field, {}).get("examples") or []
    return f"for example {examples[0]}" if examples else ""


_VALIDATORS: dict[int, tuple[Mapping[str, Any], Draft202012Validator]] = {}


# What a submission hears when its form cannot be checked (a ``$ref`` outside the form or
# one that loops, in a form published before the upload check refused them): nothing is
# saved and nothing is fetched; the task stays open for the pathway to be corrected.
UNCHECKABLE = (
    "This form cannot be checked: it refers to something outside itself or to itself. "
    "Nothing was saved; ask the pathway's author to correct the form"
)


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    # Schemas come from compiled pathways, which live as long as the process: build each
    # validator once. The schema is kept beside it so its id() is never reused meanwhile.
    # ``safe_validator`` (workflows/form_lint.py): a ``referencing`` registry that retrieves
    # nothing (no network, no disk; only ``#`` fragments of the form itself), arrays past
    # maxItems not looked into, uniqueItems in one pass, patterns only within maxLength.
    cached = _VALIDATORS.get(id(schema))
    if cached is None or cached[0] is not schema:
        if len(_VALIDATORS) > 512:
            _VALIDATORS.clear()
        cached = (schema, safe_validator(schema, format_checker=_FORMATS))
        _VALIDATORS[id(schema)] = cached
    return cached[1]


@dataclass(frozen=True)
class DateContext:
    """What clinical dates are checked against: today (London) and the date the patient's
    pathway started from (the index date), when it is known."""

    today: date
    index_date: date | None = None
    # How the pathway's profile names its index date in a sentence ("must be on or after ...").
    index_wording: str = "the pathway's index date"


def validate_submission(
    schema: Mapping[str, Any], data: Mapping[str, Any], dates: DateContext | None = None
) -> dict[str, str]:
    """Return {field: message} for everything wrong with ``data``; empty when it is valid.
    Every problem at once: the schema's, then the dates' (``x-date``, ``x-not-before``)."""
    validator = _validator(schema)
    errors: dict[str, str] = {}
    for field, prop in schema.get("properties", {}).items():
        problem = number_problem(_title(schema, field), data.get(field))
        if problem and isinstance(prop, Mapping):
            errors[field] = problem
    try:
        found = list(validator.iter_errors(dict(data)))
    except (Unresolvable, RecursionError):
        return {"_form": UNCHECKABLE}
    for error in sorted(found, key=lambda e: list(e.path)):
        field, message = _message(schema, error)
        errors.setdefault(field, message)
    if dates is not None:
        for field, message in _date_problems(schema, data, dates).items():
            errors.setdefault(field, message)
    for field, message in _user_role_problems(schema, data).items():
        errors.setdefault(field, message)
    order = list(schema.get("properties", {}))
    return dict(sorted(errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))


def _as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _long(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _date_problems(
    schema: Mapping[str, Any], data: Mapping[str, Any], dates: DateContext
) -> dict[str, str]:
    """Clinical dates cannot be in the future unless the form says the date is planned
    (``x-date: planned``) or must be to come (``future``); ``x-not-before`` names another
    date field of the form, or ``@index`` for the pathway's index date."""
    problems = {}
    for field, prop in schema.get("properties", {}).items():
        value = _as_date(data.get(field))
        if value is None or prop.get("format") != "date":
            continue
        title = _title(schema, field)
        kind = prop.get("x-date", "past")
        if kind == "past" and value > dates.today:
            problems[field] = f"{title} must be today or in the past"
            continue
        if kind == "future" and value < dates.today:
            problems[field] = f"{title} must be today or in the future"
            continue
        after = prop.get("x-not-before")
        if after == "@index":
            earliest, what = dates.index_date, dates.index_wording
        else:
            earliest, what = _as_date(data.get(after)), _lower_first(_title(schema, str(after)))
        if earliest is not None and value < earliest:
            problems[field] = f"{title} must be on or after {what} ({_long(earliest)})"
    return problems


def shown_if(prop: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """``x-show-if: {"field": "offer", "equals": "01"}`` (or ``"in": [...]``): the field is
    asked only when that answer is given (an NHS.UK conditional reveal)."""
    rule = prop.get("x-show-if")
    if not rule:
        return None
    values = rule.get("in", [rule.get("equals")])
    return str(rule["field"]), [option_value(v) for v in values]


def option_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def split_hidden(
    schema: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """(the answers kept, the titles of answers given to questions the other answers hid).

    A question revealed by an answer that was then changed is not asked: its answer is not
    kept, and the caller says so rather than drop it silently."""
    kept = dict(data)
    dropped = []
    for field, prop in schema.get("properties", {}).items():
        rule = shown_if(prop)
        if not rule or field not in kept or option_value(kept.get(rule[0])) in rule[1]:
            continue
        if kept.pop(field) not in (None, "", [], False):
            dropped.append(_title(schema, field))
    return kept, dropped


def role_holder_names(role: str) -> list[str]:
    """The display names of the active accounts holding ``role``, in order: the answers an
    ``x-user-role`` question accepts."""
    return list(
        db.session.scalars(
            select(UserModel.display_name)
            .join(UserRoleModel)
            .where(UserRoleModel.role == role, UserModel.active.is_(True))
            .order_by(UserModel.display_name)
            .distinct()
        )
    )


def _user_role_problems(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, str]:
    problems = {}
    for field, prop in schema.get("properties", {}).items():
        role = prop.get(USER_ROLE) if isinstance(prop, Mapping) else None
        value = data.get(field)
        if not role or not isinstance(value, str) or value == "":
            continue
        if value not in role_holder_names(str(role)):
            title = _lower_first(_title(schema, field))
            problems[field] = (
                f"{value} is not an active {_role_words(str(role))}: choose {title} from the list"
            )
    return problems


def _role_words(role: str) -> str:
    label = role_label(role)
    return label if label.split(" ", 1)[0].isupper() else label[0].lower() + label[1:]


def user_role_problems(forms: Mapping[str, bytes]) -> list[Problem]:
    """Forms whose ``x-user-role`` names no known role, one problem each (at upload)."""
    known = sorted(role.value for role in Role)
    problems = []
    for name, raw in forms.items():
        try:
            schema = json.loads(raw)
        except ValueError:
            continue  # the loader says so
        properties = schema.get("properties") if isinstance(schema, dict) else None
        for field, prop in (properties or {}).items() if isinstance(properties, dict) else ():
            role = prop.get(USER_ROLE) if isinstance(prop, dict) else None
            if role is None or role in known:
                continue
            problems.append(
                Problem(
                    f"Question '{field}' asks for a person with the role {role!r}, which is not "
                    f"a role here: use one of {', '.join(known)}.",
                    file=name,
                )
            )
    return problems
