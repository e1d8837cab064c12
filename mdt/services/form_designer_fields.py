"""The form designer's page as fields (``q1-label``, ``q1-kind``...) <-> its model.

Every change on the page is a form post of these fields, so the page works without
JavaScript; reading them back checks each one and names the problems by the field's id,
as the NHS error summary links them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from mdt.services.form_designer import (
    DATE_RULES,
    KEPT,
    KINDS,
    LONG_TEXT,
    MAX_OPTIONS,
    NAME,
    SHORT_TEXT,
    FormDesign,
    Question,
    code_for,
    name_for,
)


def design_fields(design: FormDesign) -> dict[str, str]:
    """The model as the page's fields (``q1-label``...), the inverse of ``read_design``."""
    fields = {
        "title": design.title,
        "description": design.description,
        "closed": "yes" if design.closed else "",
        "rule_order": json.dumps(design.rule_order),
        "questions": str(len(design.questions)),
    }
    for i, q in enumerate(design.questions, start=1):
        fields.update(
            {
                f"q{i}-name": "" if q.provisional else q.name,
                f"q{i}-label": q.label,
                f"q{i}-hint": q.hint,
                f"q{i}-kind": q.kind,
                f"q{i}-required": "yes" if q.asked_always_required else "",
                f"q{i}-minimum": _number_text(q.minimum),
                f"q{i}-maximum": _number_text(q.maximum),
                f"q{i}-max_length": "" if q.max_length is None else str(q.max_length),
                f"q{i}-options": "\n".join(f"{code} | {term}" for code, term in q.options),
                f"q{i}-option_type": q.option_type,
                f"q{i}-date_rule": q.date_rule,
                f"q{i}-show_field": q.show_field,
                f"q{i}-show_values": ", ".join(_answer_text(v) for v in q.show_values),
                f"q{i}-show_as_list": "yes" if q.show_as_list else "",
                f"q{i}-required_when": json.dumps(q.required_when),
                f"q{i}-kept": json.dumps(q.kept, ensure_ascii=False),
            }
        )
    return fields


def _number_text(value: int | float | None) -> str:
    return "" if value is None else str(value)


def _answer_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def read_design(fields: Mapping[str, str]) -> tuple[FormDesign, dict[str, str]]:
    """The model from the page's fields, and what is wrong with them (by the field's id, in
    the page's order). A model comes back even with problems: the page shows it again."""
    errors: dict[str, str] = {}
    design = FormDesign(
        title=fields.get("title", "").strip(),
        description=fields.get("description", "").strip(),
        closed=fields.get("closed", "yes") == "yes",
        rule_order=[str(k) for k in _json_list(fields.get("rule_order", "[]"))],
    )
    if len(design.title) > 200:
        errors["form-title"] = "Enter a form title of up to 200 characters"
    count = _count(fields.get("questions", "0"))
    for i in range(1, count + 1):
        design.questions.append(_read_question(fields, i, errors))
    _name_questions(design, errors)
    for i, question in enumerate(design.questions, start=1):
        _read_reveal_fields(design, question, fields, i, errors)
    return design, errors


def _count(raw: str) -> int:
    return min(int(raw), MAX_OPTIONS) if raw.isdigit() else 0


def _json_list(raw: str) -> list[Any]:
    try:
        value = json.loads(raw or "[]")
    except (ValueError, RecursionError):
        return []
    return value if isinstance(value, list) else []


def _read_question(fields: Mapping[str, str], i: int, errors: dict[str, str]) -> Question:
    def get(key: str) -> str:
        return fields.get(f"q{i}-{key}", "").strip()

    kind = get("kind") if get("kind") in KINDS else "text"
    question = Question(
        name=get("name"),
        label=get("label"),
        hint=get("hint"),
        kind=kind,
        option_type="integer" if get("option_type") == "integer" else "string",
        date_rule=get("date_rule") if get("date_rule") in DATE_RULES else "",
        show_as_list=get("show_as_list") == "yes",
        required_when=_json_list(get("required_when")),
        kept=_kept(get("kept")),
    )
    if not question.label:
        errors[f"q{i}-label"] = f"Enter the question text for question {i}"
    elif len(question.label) > 500:
        errors[f"q{i}-label"] = f"Question {i}'s text must be 500 characters or fewer"
    if kind in ("integer", "number"):
        _read_range(question, get, i, errors)
    elif kind in ("text", "textarea"):
        _read_length(question, get("max_length"), i, errors)
    elif kind in ("choice", "checkboxes"):
        _read_option_lines(question, get("options"), i, errors)
    return question


def _kept(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except (ValueError, RecursionError):
        return {}
    return {k: v for k, v in value.items() if k in KEPT} if isinstance(value, dict) else {}


def _read_range(question: Question, get: Any, i: int, errors: dict[str, str]) -> None:
    whole = question.kind == "integer"
    for key, words in (("minimum", "lowest"), ("maximum", "highest")):
        raw = get(key)
        if not raw:
            continue
        try:
            value: int | float = int(raw) if whole else float(raw)
        except ValueError:
            kind = "a whole number" if whole else "a number"
            errors[f"q{i}-{key}"] = f"The {words} number for question {i} must be {kind}"
            continue
        if not math.isfinite(value) or abs(value) > 10**15:
            errors[f"q{i}-{key}"] = f"The {words} number for question {i} is too large"
            continue
        setattr(question, key, int(value) if float(value).is_integer() and not whole else value)
    low, high = question.minimum, question.maximum
    if low is not None and high is not None and low > high:
        errors[f"q{i}-maximum"] = (
            f"The highest number for question {i} must be the lowest number or more"
        )


def _read_length(question: Question, raw: str, i: int, errors: dict[str, str]) -> None:
    long = question.kind == "textarea"
    if not raw:
        question.max_length = LONG_TEXT if long else SHORT_TEXT
        return
    most = int(raw) if raw.isdigit() else 0
    low, high = (SHORT_TEXT + 1, 20000) if long else (1, SHORT_TEXT)
    if not low <= most <= high:
        errors[f"q{i}-max_length"] = (
            f"The most characters for question {i} must be a whole number from {low} to {high}"
            + ("" if long else ": choose long text for more")
        )
        return
    question.max_length = most


def _read_option_lines(question: Question, raw: str, i: int, errors: dict[str, str]) -> None:
    """One answer a line: "code | term", or a term alone (a code is made from it)."""
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    taken: set[str] = set()
    options: list[tuple[Any, str]] = []
    for line in lines:
        code_text, bar, term = line.partition("|")
        code_text, term = code_text.strip(), term.strip()
        if not bar:
            code_text, term = code_for(code_text, taken), code_text
        if not code_text or not term:
            errors[f"q{i}-options"] = f"Give each answer of question {i} a code and a term"
            return
        code: Any = code_text
        if question.option_type == "integer":
            if not code_text.lstrip("-").isdigit():
                errors[f"q{i}-options"] = f"The codes of question {i} must be whole numbers"
                return
            code = int(code_text)
        if str(code) in taken:
            errors[f"q{i}-options"] = f"Question {i} has the code {code} twice"
            return
        taken.add(str(code))
        options.append((code, term))
    if not options:
        errors[f"q{i}-options"] = f"Enter the answers to choose from for question {i}"
    elif len(options) > MAX_OPTIONS:
        errors[f"q{i}-options"] = f"Question {i} may have at most {MAX_OPTIONS} answers"
    question.options = options


def _name_questions(design: FormDesign, errors: dict[str, str]) -> None:
    """Each question's stored name: as given, or made from its label, unique in the form."""
    given = [q.name for q in design.questions]
    for i, question in enumerate(design.questions, start=1):
        if not question.name:
            question.name = name_for(question.label or f"question {i}", set(given))
            question.provisional = not question.label
            given[i - 1] = question.name
        elif not NAME.fullmatch(question.name):
            errors[f"q{i}-name"] = (
                f"Question {i}'s saved name must start with a letter and have only lower-case "
                "letters, digits and underscores, like pain_score"
            )
        elif given.count(question.name) > 1:
            errors[f"q{i}-name"] = f"Question {i}'s saved name {question.name} is used twice"


def _read_reveal_fields(
    design: FormDesign, question: Question, fields: Mapping[str, str], i: int, errors: dict
) -> None:
    controller_name = fields.get(f"q{i}-show_field", "").strip()
    required = fields.get(f"q{i}-required", "") == "yes"
    if not controller_name:
        question.required, question.required_when = required, []
        return
    controller = next((q for q in design.questions if q.name == controller_name), None)
    if controller is None or controller is question or controller.kind not in ("yesno", "choice"):
        errors[f"q{i}-show_field"] = (
            f"Question {i} can only be shown after a yes or no question, or one with one "
            "answer from a list, of this form"
        )
        return
    values = _reveal_values(controller, fields.get(f"q{i}-show_values", ""))
    if values is None or not values:
        errors[f"q{i}-show_values"] = (
            f"Enter the answer to '{controller.label}' that shows question {i}"
            + (": yes or no" if controller.kind == "yesno" else ", as its code or term")
        )
        return
    question.show_field, question.show_values = controller.name, values
    if len(values) > 1:
        question.show_as_list = True
    question.required = False
    kept = [v for v in question.required_when if v in values]
    question.required_when = (kept or list(values)) if required else []


def _reveal_values(controller: Question, raw: str) -> list[Any] | None:
    """The answers typed ("yes", a code or a term, several with commas), or None if one is
    not an answer of the controlling question."""
    values: list[Any] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if controller.kind == "yesno":
            value = {"yes": True, "true": True, "no": False, "false": False}.get(part.lower())
            if value is None:
                return None
        else:
            match = [
                c for c, t in controller.options if part in (str(c),) or part.lower() == t.lower()
            ]
            if not match:
                return None
            value = match[0]
        if value not in values:
            values.append(value)
    return values
