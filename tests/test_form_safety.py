"""Forms are data, never fetches (issue 24): a form's JSON Schema cannot make the server fetch
a URL, open a file, recurse for ever, compare every pair of a huge answer or backtrack for
minutes on a short one. Refused at upload with a problem naming the form and the place;
refused at submission even for a schema that was somehow stored."""

from __future__ import annotations

import json
import socket
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import workflows.form_lint as form_lint
from mdt.models import TaskStatus
from mdt.services.actor import SYSTEM
from mdt.services.errors import InvalidInputError
from mdt.services.form_validation import UNCHECKABLE, validate_submission
from mdt.services.instances import complete_task
from mdt.services.pathways import publish_files, read_pathway_directory
from workflows import PathwayInvalidError
from workflows.trial_answers import CodeMentions, answer_sets

from .conftest import FIXTURES
from .helpers import new_patient, ready_task, start_on

FORMS = Path(__file__).resolve().parents[1] / "bpmn" / "forms"

ASSESS: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Wound assessment",
    "type": "object",
    "required": ["size_cm", "infected"],
    "properties": {
        "size_cm": {"type": "integer", "title": "Wound size (cm)", "minimum": 0, "maximum": 50},
        "infected": {"type": "boolean", "title": "Signs of infection?"},
        "notes": {"type": "string", "title": "Notes", "maxLength": 2000},
    },
}


def _with(**properties: Any) -> dict[str, Any]:
    schema = json.loads(json.dumps(ASSESS))
    schema["properties"].update(properties)
    return schema


def _publish(assess: dict[str, Any]) -> Any:
    bpmn, forms = read_pathway_directory(FIXTURES / "tiny")
    forms["assess.schema.json"] = json.dumps(assess).encode()
    return publish_files(SYSTEM, "wound-care", "Wound care", bpmn, forms)


def _refused(assess: dict[str, Any]) -> list[str]:
    with pytest.raises(PathwayInvalidError) as error:
        _publish(assess)
    found = [p for p in error.value.problems if p.file == "assess.schema.json"]
    assert found, [p.message for p in error.value.problems]
    return [p.message for p in found]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every attempt to open a connection or a URL is recorded and fails."""
    attempts: list[str] = []

    def connect(self: Any, address: Any) -> None:
        attempts.append(f"socket {address}")
        raise OSError("no network in this test")

    def urlopen(url: Any, *args: Any, **kwargs: Any) -> None:
        attempts.append(f"urlopen {getattr(url, 'full_url', url)}")
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return attempts


# -- refused at upload ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "said"),
    [
        ("http://169.254.169.254/latest/meta-data", "a web address"),
        ("https://evil.example/form.json", "a web address"),
        ("file:///etc/passwd", "a file on the server"),
        ("urn:example:choices", "a name outside the pathway"),
        ("review.schema.json", "something outside this form"),
    ],
)
def test_a_ref_outside_the_form_is_refused_at_upload(ref: str, said: str) -> None:
    [message] = _refused(_with(extra={"$ref": ref}))
    assert said in message and "/properties/extra/$ref" in message
    assert "assess.schema.json" in message and "question 'extra'" in message


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        (_with(extra={"$ref": "#/properties/extra"}), "/properties/extra/$ref"),
        (_with(extra={"$ref": "#"}), "/properties/extra/$ref"),
        (
            {
                **_with(extra={"$ref": "#/$defs/a"}),
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
            },
            "/$defs/a/$ref",
        ),
    ],
)
def test_self_referencing_and_cyclic_refs_are_refused_at_upload(
    schema: dict[str, Any], pointer: str
) -> None:
    messages = _refused(schema)
    assert any(pointer in m and "leads back to itself" in m for m in messages), messages


def test_a_ref_to_a_definition_in_the_same_form_is_accepted_and_checked() -> None:
    schema = {
        **_with(colour={"$ref": "#/$defs/colour"}),
        "$defs": {"colour": {"type": "string", "enum": ["red", "amber", "green"]}},
    }
    _publish(schema)
    base = {"size_cm": 1, "infected": False}
    assert validate_submission(schema, {**base, "colour": "red"}) == {}
    assert "colour" in validate_submission(schema, {**base, "colour": "blue"})


def test_many_references_and_deep_nesting_are_problems_not_crashes() -> None:
    many = {
        **_with(**{f"q{i}": {"$ref": "#/$defs/text"} for i in range(201)}),
        "$defs": {"text": {"type": "string", "maxLength": 20}},
    }
    assert any("201 $ref references; at most 200" in m for m in _refused(many))
    deep: dict[str, Any] = {"type": "string", "maxLength": 5}
    for _ in range(3000):
        deep = {"not": deep}
    [problem] = form_lint.form_problems("deep.schema.json", _with(deep=deep))
    assert "nested too deeply" in problem.message


def test_arrays_and_strings_without_limits_are_refused_naming_the_question() -> None:
    messages = _refused(
        _with(
            summary={"type": "string", "title": "Summary"},
            services={
                "type": "array",
                "uniqueItems": True,
                "items": {"type": "string", "enum": ["a", "b"]},
            },
        )
    )
    assert any("question 'summary'" in m and '"maxLength"' in m for m in messages), messages
    assert any("question 'services'" in m and '"maxItems"' in m for m in messages), messages


def test_unique_items_needs_a_small_max_items_and_enums_are_bounded() -> None:
    messages = _refused(
        _with(
            services={
                "type": "array",
                "maxItems": 1000,
                "uniqueItems": True,
                "items": {"type": "string", "maxLength": 50},
            },
            code={"type": "string", "enum": [str(i) for i in range(600)]},
            untyped={"uniqueItems": True, "items": {"type": "integer"}},
        )
    )
    assert any("question 'untyped'" in m and "at most 100" in m for m in messages), messages
    assert any("question 'services'" in m and "at most 100" in m for m in messages), messages
    assert any("question 'code'" in m and "600 enum options" in m for m in messages), messages


@pytest.mark.parametrize("pattern", [r"^(a+)+$", r"^(a|ab)*$", r"^(.*)*x$", r"^(\w+\s?)*$"])
def test_a_redos_pattern_is_refused_at_upload(pattern: str) -> None:
    [message] = _refused(_with(code={"type": "string", "maxLength": 50, "pattern": pattern}))
    assert "question 'code'" in message and "/properties/code/pattern" in message
    assert "repeats a group" in message


def test_a_pattern_needs_a_short_max_length_and_ordinary_patterns_pass() -> None:
    [message] = _refused(_with(code={"type": "string", "maxLength": 5000, "pattern": "^[0-9]+$"}))
    assert '"pattern" so needs "maxLength" of at most 500' in message
    assert form_lint.pattern_problem(r"^([01][0-9]|2[0-3]):[0-5][0-9]$") is None  # shipped
    assert form_lint.pattern_problem(r"^(\d{1,3}\.){3}\d{1,3}$") is None
    assert "back-references" in str(form_lint.pattern_problem(r"^(a)\1$"))
    # Three overlapping long repeats took 13 s on 500 digits; two take about 0.1 s.
    assert "3 repeats of more than 10" in str(form_lint.pattern_problem(r"\d*\d*\d*x"))
    assert form_lint.pattern_problem(r"^\d+\.?\d*$") is None


def test_the_shipped_forms_pass_the_form_checks() -> None:
    for path in sorted(FORMS.glob("*.json")):
        assert form_lint.form_problems(path.name, json.loads(path.read_text())) == [], path.name


# -- nothing is fetched at submission, even from a schema that was stored -----------------


@pytest.mark.parametrize(
    "ref", ["http://127.0.0.1:9/form.json", "https://evil.example/x", "urn:example:x"]
)
def test_a_stored_remote_ref_is_refused_at_submission_without_a_fetch(
    ref: str, no_network: list[str]
) -> None:
    stored = _with(extra={"$ref": ref})
    errors = validate_submission(stored, {"size_cm": 1, "infected": False, "extra": "x"})
    assert errors == {"_form": UNCHECKABLE}
    assert no_network == []


def test_a_stored_file_ref_is_not_opened(tmp_path: Path, no_network: list[str]) -> None:
    # The file holds a schema every answer fails: were it opened, "extra" would be refused
    # for its length instead of the form being refused as uncheckable.
    local = tmp_path / "local.schema.json"
    local.write_text(json.dumps({"type": "string", "maxLength": 0}))
    stored = _with(extra={"$ref": local.as_uri()})
    errors = validate_submission(stored, {"size_cm": 1, "infected": False, "extra": "x"})
    assert errors == {"_form": UNCHECKABLE}
    assert no_network == []


def test_a_stored_self_reference_is_refused_not_a_crash() -> None:
    stored = _with(extra={"$ref": "#/properties/extra"})
    errors = validate_submission(stored, {"size_cm": 1, "infected": False, "extra": "x"})
    assert errors == {"_form": UNCHECKABLE}


def test_trial_answers_never_fetch(no_network: list[str]) -> None:
    stored = _with(extra={"$ref": "http://127.0.0.1:9/x"})
    sets = answer_sets(stored, date(2026, 1, 5), CodeMentions(names=frozenset({"infected"})))
    assert sets and no_network == []


# -- huge answers stop at the limit ---------------------------------------------------------


def _services_schema() -> dict[str, Any]:
    schema = json.loads((FORMS / "family-support.schema.json").read_text())
    assert schema["properties"]["services"]["uniqueItems"] is True
    return schema


def test_twenty_thousand_distinct_services_stop_at_max_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = _services_schema()
    most = schema["properties"]["services"]["maxItems"]
    looked_at: list[Any] = []
    original = form_lint._canonical

    def counting(item: Any) -> str:
        looked_at.append(item)
        return original(item)

    monkeypatch.setattr(form_lint, "_canonical", counting)
    hostile = [{"n": i, "pad": "x" * 8} for i in range(20000)]
    errors = validate_submission(schema, {"services": hostile})
    assert (
        errors["services"] == f"Select no more than {most} for services referred or signposted to"
    )
    assert looked_at == []  # no uniqueItems comparison, no item checked

    # Within the limit, uniqueItems is one pass over the items.
    options = [o["const"] for o in schema["properties"]["services"]["items"]["oneOf"]]
    errors = validate_submission(schema, {"services": [options[0], options[1], options[0]]})
    assert (
        errors["services"]
        == "Services referred or signposted to has the same answer more than once"
    )
    assert len(looked_at) == 3


def test_a_form_without_its_own_limits_still_has_the_hard_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A pathway published before the limits were required.
    old = _with(
        services={"type": "array", "uniqueItems": True, "items": {"type": "object"}},
        summary={"type": "string", "title": "Summary", "pattern": "^(a+)+$"},
    )
    compared: list[Any] = []
    monkeypatch.setattr(form_lint, "_canonical", lambda item: compared.append(item) or "")
    hostile = [{"n": i} for i in range(form_lint.HARD_MAX_ITEMS + 1)]
    long = "a" * (form_lint.HARD_MAX_LENGTH + 1) + "!"
    errors = validate_submission(
        old, {"size_cm": 1, "infected": False, "services": hostile, "summary": long}
    )
    assert errors["services"] == f"Select no more than {form_lint.HARD_MAX_ITEMS} for services"
    assert errors["summary"] == f"Summary must be {form_lint.HARD_MAX_LENGTH} characters or fewer"
    assert compared == []  # and the pattern was not run on the 20,000 characters


def test_a_nurse_submitting_twenty_thousand_services_gets_a_clear_error(
    make_user: Any, actor: Any
) -> None:
    _publish(
        _with(
            services={
                "type": "array",
                "title": "Services",
                "maxItems": 3,
                "uniqueItems": True,
                "items": {"type": "string", "enum": ["gp", "hospice", "charity"]},
            }
        )
    )
    nurse = make_user("cns", username="nurse")
    make_user("oncologist", username="doctor")
    patient = new_patient(actor(nurse), start=False)
    start_on(actor(nurse), patient, "wound-care")
    task = ready_task(patient.id, "Assess the wound")
    hostile = [{"n": i} for i in range(20000)]
    with pytest.raises(InvalidInputError) as error:
        complete_task(actor(nurse), task.id, {"size_cm": 1, "infected": False, "services": hostile})
    assert error.value.errors == {"services": "Select no more than 3 for services"}
    done = complete_task(
        actor(nurse), task.id, {"size_cm": 1, "infected": False, "services": ["gp", "hospice"]}
    )
    assert done.status == TaskStatus.COMPLETED and done.data["services"] == ["gp", "hospice"]
