"""The form designer: a manager's list of questions <-> the form's JSON Schema.

The designer edits a small model (questions with a label, hint, type, required, a
conditional reveal and a list of coded answers) and the JSON Schema is always generated
from it here, server-side, with the limits the upload lint requires (``maxLength``,
``maxItems``). A form using anything the model cannot hold (an ``x-user-role`` select, an
NHS number, ``$ref``...) is refused by ``design_from_schema`` with the reason, and the page
opens it as raw JSON instead: nothing is ever dropped from a form on its way through.
Keywords the designer shows but does not edit (letters, date rules against other fields,
examples) are carried through unchanged.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mdt.models import PathwayVersionModel
from mdt.services.actor import Actor
from mdt.services.errors import ConflictError, InvalidInputError
from mdt.services.pathway_drafts import FILE_NAME, update_draft
from mdt.services.pathways import get_version
from workflows.lint import load_forms

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# The types a manager chooses from, as the page words them.
KINDS = {
    "text": "Short text (one line)",
    "textarea": "Long text (several lines)",
    "integer": "Whole number",
    "number": "Number (decimals allowed)",
    "date": "Date",
    "yesno": "Yes or no",
    "choice": "One answer from a list",
    "checkboxes": "Checkboxes (any answers from a list)",
}
DATE_RULES = {
    "past": "Today or earlier",
    "future": "Today or later",
    "planned": "Any date",
}
# Default limits for new questions: what the authoring guide asks for (a name, free text).
SHORT_TEXT = 200
LONG_TEXT = 2000
MAX_OPTIONS = 500
NAME = re.compile(r"[a-z][a-z0-9_]{0,59}")

_TOP = {
    "$schema",
    "title",
    "description",
    "type",
    "additionalProperties",
    "required",
    "properties",
    "allOf",
}
# Read and written by the designer, whatever the question's type.
_COMMON = {"type", "title", "description", "x-show-if"}
_BY_KIND = {
    "text": {"maxLength"},
    "textarea": {"maxLength"},
    "integer": {"minimum", "maximum"},
    "number": {"minimum", "maximum"},
    "date": {"format", "x-date"},
    "yesno": set(),
    "choice": {"oneOf"},
    "checkboxes": {"items", "maxItems", "uniqueItems"},
}
# Shown by the renderer or read elsewhere, not edited here: carried through unchanged.
KEPT = {
    "x-not-before",
    "x-letter",
    "x-letter-part",
    "x-error-required",
    "examples",
    "x-on-list",
    "x-review-by",
    "x-meeting-date",
    "minItems",
    "minLength",
    "pattern",
}


class NotRepresentable(ValueError):
    """The form uses something the designer cannot show: it opens as raw JSON."""


@dataclass
class Question:
    name: str = ""
    label: str = ""
    hint: str = ""
    kind: str = "text"
    required: bool = False  # in the form's ``required`` list (asked always)
    minimum: int | float | None = None
    maximum: int | float | None = None
    max_length: int | None = None
    # (code, term): the coded answers, the code stored, the term shown.
    options: list[tuple[Any, str]] = field(default_factory=list)
    option_type: str = "string"  # "integer" keeps numeric codes (ECOG 0 to 4) numbers
    date_rule: str = ""  # x-date; "" when the form does not say (past, the default)
    show_field: str = ""  # asked only after one of show_values is given to this question
    show_values: list[Any] = field(default_factory=list)
    show_as_list: bool = False  # "in": [...] rather than "equals"
    # The answers to show_field that make this question required (allOf if/then rules).
    required_when: list[Any] = field(default_factory=list)
    kept: dict[str, Any] = field(default_factory=dict)
    # A name made up for a question with no text yet: the page leaves it blank, so the
    # name is made from the text once there is one.
    provisional: bool = False

    @property
    def asked_always_required(self) -> bool:
        """What the page's one "Required" box means for this question."""
        return self.required or bool(self.required_when)


@dataclass
class FormDesign:
    title: str = ""
    description: str = ""
    questions: list[Question] = field(default_factory=list)
    closed: bool = True  # additionalProperties: false (answers to unlisted questions refused)
    # The if/then rules' order as the file had it (a rule is its [field, answer] as JSON),
    # so opening and saving a form changes nothing in it.
    rule_order: list[str] = field(default_factory=list)


# -- JSON Schema -> designer ------------------------------------------------------------------


def design_from_schema(schema: Any) -> FormDesign:
    """The designer's model of a form, or NotRepresentable saying what it cannot hold."""
    if not isinstance(schema, Mapping):
        raise NotRepresentable("the form is not a JSON object")
    unknown = sorted(set(schema) - _TOP)
    if unknown:
        raise NotRepresentable(f"the form uses {', '.join(unknown)} at the top level")
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), Mapping):
        raise NotRepresentable('the form is not "type": "object" with "properties"')
    if schema.get("$schema", DIALECT) != DIALECT:
        raise NotRepresentable(f"the form's $schema is not {DIALECT}")
    if schema.get("additionalProperties", False) is not False:
        raise NotRepresentable("the form's additionalProperties is not false")
    required = schema.get("required", [])
    properties = schema["properties"]
    if not isinstance(required, list) or any(name not in properties for name in required):
        raise NotRepresentable("the form's required list names questions it does not have")
    design = FormDesign(
        title=_text(schema, "title"),
        description=_text(schema, "description"),
        closed="additionalProperties" in schema,
    )
    for name, prop in properties.items():
        question = _question(str(name), prop)
        question.required = name in required
        design.questions.append(question)
    _read_rules(design, schema.get("allOf", []))
    _check_reveals(design)
    return design


def _text(node: Mapping[str, Any], key: str, where: str = "the form") -> str:
    value = node.get(key, "")
    if not isinstance(value, str):
        raise NotRepresentable(f"{where}'s {key} is not text")
    return value


def _question(name: str, prop: Any) -> Question:
    where = f"question '{name}'"
    if not isinstance(prop, Mapping):
        raise NotRepresentable(f"{where} is not a JSON object")
    kind = _kind(where, prop)
    unknown = sorted(set(prop) - _COMMON - _BY_KIND[kind] - KEPT)
    if unknown:
        raise NotRepresentable(f"{where} uses {', '.join(unknown)}")
    question = Question(
        name=name,
        label=_text(prop, "title", where),
        hint=_text(prop, "description", where),
        kind=kind,
        kept={k: copy.deepcopy(v) for k, v in prop.items() if k in KEPT},
    )
    _read_kind(question, where, prop)
    _read_reveal(question, where, prop.get("x-show-if"))
    return question


def _kind(where: str, prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    if kind == "boolean":
        return "yesno"
    if kind == "array":
        return "checkboxes"
    if "oneOf" in prop and kind in ("string", "integer"):
        return "choice"
    if kind in ("integer", "number"):
        return str(kind)
    if kind == "string" and prop.get("format") == "date":
        return "date"
    if kind == "string" and "format" not in prop:
        most = prop.get("maxLength")
        return "textarea" if isinstance(most, int) and most > SHORT_TEXT else "text"
    raise NotRepresentable(f"{where} has a type or format the designer does not offer")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _read_kind(question: Question, where: str, prop: Mapping[str, Any]) -> None:
    kind = question.kind
    if kind in ("text", "textarea"):
        if not _is_int(prop.get("maxLength")):
            raise NotRepresentable(f"{where} has no whole-number maxLength")
        question.max_length = prop["maxLength"]
    elif kind in ("integer", "number"):
        for key in ("minimum", "maximum"):
            if key in prop and not _is_number(prop[key]):
                raise NotRepresentable(f"{where}'s {key} is not a number")
        question.minimum, question.maximum = prop.get("minimum"), prop.get("maximum")
    elif kind == "date":
        question.date_rule = str(prop.get("x-date", ""))
        if question.date_rule not in ("", *DATE_RULES):
            raise NotRepresentable(f"{where}'s x-date is not past, future or planned")
    elif kind == "choice":
        question.option_type = str(prop["type"])
        question.options = _read_options(where, prop["oneOf"])
    elif kind == "checkboxes":
        _read_checkboxes(question, where, prop)


def _read_options(where: str, options: Any) -> list[tuple[Any, str]]:
    if not isinstance(options, list) or not options:
        raise NotRepresentable(f"{where}'s answers are not a list")
    read = []
    for option in options:
        if not isinstance(option, Mapping) or set(option) != {"const", "title"}:
            raise NotRepresentable(f"{where} has an answer that is not a code and a term")
        if not isinstance(option["title"], str) or not isinstance(option["const"], str | int):
            raise NotRepresentable(f"{where} has an answer that is not a code and a term")
        read.append((option["const"], option["title"]))
    return read


def _read_checkboxes(question: Question, where: str, prop: Mapping[str, Any]) -> None:
    items = prop.get("items")
    if not isinstance(items, Mapping) or set(items) != {"type", "oneOf"}:
        raise NotRepresentable(f"{where}'s items are not a list of coded answers")
    if items["type"] not in ("string", "integer"):
        raise NotRepresentable(f"{where}'s answers are neither text nor whole numbers")
    question.option_type = str(items["type"])
    question.options = _read_options(where, items["oneOf"])
    if prop.get("maxItems") != len(question.options) or prop.get("uniqueItems") is not True:
        raise NotRepresentable(
            f"{where} limits its answers differently from one of each (maxItems, uniqueItems)"
        )


def _read_reveal(question: Question, where: str, rule: Any) -> None:
    if rule is None:
        return
    if not isinstance(rule, Mapping) or not isinstance(rule.get("field"), str):
        raise NotRepresentable(f"{where}'s x-show-if is not a field and its answers")
    if set(rule) == {"field", "equals"}:
        question.show_values = [rule["equals"]]
    elif set(rule) == {"field", "in"} and isinstance(rule["in"], list) and rule["in"]:
        question.show_values, question.show_as_list = list(rule["in"]), True
    else:
        raise NotRepresentable(f"{where}'s x-show-if is not a field and its answers")
    question.show_field = rule["field"]


def _read_rules(design: FormDesign, rules: Any) -> None:
    """``allOf`` if/then rules, each "answer V to F makes these required": every question
    they name must be one F's answers reveal (else the designer could not show it)."""
    by_name = {q.name: q for q in design.questions}
    if not isinstance(rules, list):
        raise NotRepresentable("the form's allOf is not a list")
    for rule in rules:
        controller, value, names = _rule_parts(rule)
        for name in names:
            question = by_name.get(name)
            if question is None or question.show_field != controller:
                raise NotRepresentable(
                    f"an answer to '{controller}' makes '{name}' required without revealing it"
                )
            if value not in question.show_values or value in question.required_when:
                raise NotRepresentable(
                    f"an answer to '{controller}' makes '{name}' required without revealing it"
                )
            question.required_when.append(value)
        design.rule_order.append(json.dumps([controller, value]))


def _rule_parts(rule: Any) -> tuple[str, Any, list[str]]:
    shape = "the form has an allOf rule other than 'this answer makes these required'"
    try:
        condition, then = rule["if"], rule["then"]
        assert set(rule) == {"if", "then"} and set(then) == {"required"}
        assert set(condition) == {"properties", "required"}
        ((controller, test),) = condition["properties"].items()
        assert set(test) == {"const"} and condition["required"] == [controller]
        names = then["required"]
        assert isinstance(names, list) and all(isinstance(n, str) for n in names)
    except (KeyError, TypeError, ValueError, AttributeError, AssertionError):
        raise NotRepresentable(shape) from None
    return str(controller), test["const"], names


def _check_reveals(design: FormDesign) -> None:
    kinds = {q.name: q.kind for q in design.questions}
    for question in design.questions:
        if question.show_field and kinds.get(question.show_field) not in ("yesno", "choice"):
            raise NotRepresentable(
                f"question '{question.name}' is revealed by '{question.show_field}', "
                "which is not a yes/no or one-answer question of the form"
            )


# -- designer -> JSON Schema ------------------------------------------------------------------


def schema_from_design(design: FormDesign) -> dict[str, Any]:
    """The form's JSON Schema, written the way the shipped forms are."""
    schema: dict[str, Any] = {"$schema": DIALECT}
    if design.title:
        schema["title"] = design.title
    if design.description:
        schema["description"] = design.description
    schema["type"] = "object"
    if design.closed:
        schema["additionalProperties"] = False
    required = [q.name for q in design.questions if q.required]
    if required:
        schema["required"] = required
    schema["properties"] = {q.name: _property(q) for q in design.questions}
    rules = _rules(design)
    if rules:
        schema["allOf"] = rules
    return schema


def _property(question: Question) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": _json_type(question)}
    if question.kind == "date":
        prop["format"] = "date"
    if question.label:
        prop["title"] = question.label
    if question.hint:
        prop["description"] = question.hint
    kind = question.kind
    if kind in ("text", "textarea"):
        prop["maxLength"] = question.max_length or (LONG_TEXT if kind == "textarea" else SHORT_TEXT)
    elif kind in ("integer", "number"):
        for key in ("minimum", "maximum"):
            if getattr(question, key) is not None:
                prop[key] = getattr(question, key)
    elif kind == "date" and question.date_rule:
        prop["x-date"] = question.date_rule
    elif kind == "choice":
        prop["oneOf"] = _options(question)
    elif kind == "checkboxes":
        prop["maxItems"] = len(question.options)
        prop["uniqueItems"] = True
        prop["items"] = {"type": question.option_type, "oneOf": _options(question)}
    if question.show_field:
        values = question.show_values
        prop["x-show-if"] = (
            {"field": question.show_field, "in": list(values)}
            if question.show_as_list or len(values) != 1
            else {"field": question.show_field, "equals": values[0]}
        )
    prop.update(copy.deepcopy(question.kept))
    return prop


def _json_type(question: Question) -> str:
    return {
        "text": "string",
        "textarea": "string",
        "integer": "integer",
        "number": "number",
        "date": "string",
        "yesno": "boolean",
        "choice": question.option_type,
        "checkboxes": "array",
    }[question.kind]


def _options(question: Question) -> list[dict[str, Any]]:
    return [{"const": code, "title": term} for code, term in question.options]


def _rules(design: FormDesign) -> list[dict[str, Any]]:
    """One if/then rule per answer that makes questions required, in the order the
    questions they reveal come (the order the shipped forms use)."""
    grouped: dict[str, tuple[str, Any, list[str]]] = {}
    for question in design.questions:
        for value in question.required_when:
            key = json.dumps([question.show_field, value])
            grouped.setdefault(key, (question.show_field, value, []))[2].append(question.name)
    known = {key: i for i, key in enumerate(design.rule_order)}
    ordered = sorted(grouped, key=lambda key: known.get(key, len(known)))
    return [
        {
            "if": {"properties": {field_: {"const": value}}, "required": [field_]},
            "then": {"required": names},
        }
        for field_, value, names in (grouped[key] for key in ordered)
    ]


def schema_text(schema: Mapping[str, Any]) -> str:
    """A form file's text: as the shipped forms are written (2 spaces, UTF-8, a newline)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


# -- editing ----------------------------------------------------------------------------------


def move(design: FormDesign, index: int, step: int) -> FormDesign:
    """The question at ``index`` moved up (-1) or down (+1); past either end, unchanged."""
    target = index + step
    questions = design.questions
    if 0 <= index < len(questions) and 0 <= target < len(questions):
        questions[index], questions[target] = questions[target], questions[index]
    return design


def remove(design: FormDesign, index: int) -> FormDesign:
    if 0 <= index < len(design.questions):
        del design.questions[index]
    return design


def add_question(design: FormDesign) -> FormDesign:
    design.questions.append(Question())
    return design


def name_for(label: str, taken: set[str]) -> str:
    """A stored answer name from a question's label: 'Pain score (0-10)' -> pain_score_0_10."""
    words = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if not words:
        words = "question"
    base = (words if words[:1].isalpha() else f"q_{words}")[:50].rstrip("_")
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def code_for(term: str, taken: set[str]) -> str:
    return name_for(term, taken)


# -- checking and saving ----------------------------------------------------------------------


@dataclass(frozen=True)
class TextProblem:
    message: str
    line: int | None = None
    column: int | None = None


def parse_form_text(text: str) -> Any:
    """A form's JSON, or ValueError: its syntax error (``JSONDecodeError``, with the line and
    column), or nesting too deep for the parser (a form's questions are flat)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(
            "The JSON is nested too deeply to read: a form's questions are flat"
        ) from None


def check_form_text(name: str, text: str) -> list[TextProblem]:
    """Every problem the upload would find in a form's text, JSON syntax first (with its
    line and column), then the JSON Schema and the form lint (limits, references)."""
    try:
        parse_form_text(text)
    except json.JSONDecodeError as error:
        return [
            TextProblem(
                f"Line {error.lineno}, column {error.colno}: the JSON is not valid: {error.msg}",
                error.lineno,
                error.colno,
            )
        ]
    except ValueError as error:
        return [TextProblem(str(error))]
    _forms, problems = load_forms({name or "form.schema.json": text.encode()})
    return [TextProblem(p.message, p.line) for p in problems]


def form_file_name(raw: str) -> str:
    """A new form's file name as typed, ending .schema.json unless it ends .json already."""
    name = raw.strip()
    if name and not name.endswith(".json"):
        name += ".schema.json"
    return name


def draft_forms(version: PathwayVersionModel) -> list[str]:
    return sorted(f.name for f in version.files if f.kind == "form")


def save_form(
    actor: Actor, version_id: int, name: str, text: str, expected_sha256: str, new: bool
) -> PathwayVersionModel:
    """Write one form into the draft through the draft's own save (managers only, audited,
    and a draft saved by someone else since ``expected_sha256`` is reported, not
    overwritten). ``new`` refuses a name the draft already has."""
    version = get_version(version_id)
    files = {f.name: f.content for f in version.files}
    problem = file_name_problem(version, name, new)
    if problem:
        raise InvalidInputError({"file_name": problem})
    if not new and name not in files:
        raise ConflictError(f"The draft no longer has a form called {name}: someone removed it.")
    files[name] = text.encode()
    return update_draft(actor, version_id, files, expected_sha256)


def file_name_problem(version: PathwayVersionModel, name: str, new: bool) -> str | None:
    """Why a form cannot be saved under ``name`` (a new form's name must be free)."""
    if not FILE_NAME.fullmatch(name) or not name.endswith(".json"):
        return "Enter a file name of letters, digits and hyphens, like contact-preferences"
    if new and any(f.name == name for f in version.files):
        return f"The draft already has a form called {name}: choose another name"
    return None
