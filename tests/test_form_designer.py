"""The form designer: questions <-> JSON Schema without losing anything, generated forms
pass the upload's checks, and the designer's page adds, moves, edits, removes, previews
(exactly as the task screen renders) and saves into the draft under its conflict rule."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel
from mdt.services.form_designer import (
    FormDesign,
    NotRepresentable,
    Question,
    check_form_text,
    design_from_schema,
    move,
    remove,
    schema_from_design,
    schema_text,
)
from mdt.services.form_designer_fields import design_fields, read_design
from mdt.services.pathway_drafts import open_draft, update_draft
from workflows.lint import load_forms

from .conftest import FIXTURES, ROOT, Auth, csrf_token
from .helpers import ready_task
from .test_pathway_migration import ward  # noqa: F401 - the fixture

SHIPPED = sorted((ROOT / "bpmn" / "forms").glob("*.json")) + sorted(FIXTURES.glob("*/forms/*.json"))


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


# -- the service ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_form_round_trips_or_opens_as_raw_json(path: Path) -> None:
    schema = _load(path)
    try:
        design = design_from_schema(schema)
    except NotRepresentable as reason:
        # Only forms using something the designer does not offer, and it says what.
        assert any(word in str(reason) for word in ("x-user-role", "uses", "format")), reason
        return
    generated = schema_from_design(design)
    assert generated == schema
    # The order of questions, of required and of the if/then rules is kept too, so opening
    # and saving a form changes nothing in it.
    assert list(generated["properties"]) == list(schema["properties"])
    assert generated.get("required") == schema.get("required")
    assert generated.get("allOf") == schema.get("allOf")
    # And through the page's own fields, as a manager who changes nothing saves it.
    again, errors = read_design(design_fields(design))
    assert not errors
    assert schema_from_design(again) == schema


def test_most_shipped_forms_open_in_the_designer() -> None:
    opened = []
    for path in SHIPPED:
        try:
            design_from_schema(_load(path))
            opened.append(path.name)
        except NotRepresentable:
            pass
    assert len(opened) >= len(SHIPPED) - 2


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "object", "properties": {"who": {"type": "string", "x-user-role": "cns"}}}, "x-user-role"),
        ({"type": "object", "properties": {"n": {"type": "string", "format": "nhs-number", "maxLength": 12}}}, "format"),
        ({"type": "object", "properties": {}, "$defs": {}}, "$defs"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}}, "type"),
    ],
)  # fmt: skip
def test_what_the_designer_cannot_hold_is_refused_with_the_reason(
    schema: dict[str, Any], reason: str
) -> None:
    with pytest.raises(NotRepresentable, match=re.escape(reason)):
        design_from_schema(schema)


def _every_kind() -> FormDesign:
    return FormDesign(
        title="Lymphoedema review",
        questions=[
            Question(name="notes", label="Notes", kind="textarea"),
            Question(name="arm_cm", label="Arm circumference", kind="number", minimum=10, maximum=80, required=True),
            Question(name="seen_on", label="Seen on", kind="date", date_rule="past"),
            Question(name="swelling", label="Swelling?", kind="yesno", required=True),
            Question(name="where", label="Where", kind="choice", options=[("left", "Left arm"), ("right", "Right arm")],
                     show_field="swelling", show_values=[True], required_when=[True]),
            Question(name="garments", label="Garments", kind="checkboxes", options=[("sleeve", "Sleeve"), ("glove", "Glove")]),
            Question(name="name", label="Therapist", kind="text"),
        ],
    )  # fmt: skip


def test_generated_forms_pass_the_upload_checks_and_carry_the_limits() -> None:
    schema = schema_from_design(_every_kind())
    forms, problems = load_forms({"review.schema.json": schema_text(schema).encode()})
    assert problems == [] and "review.schema.json" in forms
    props = schema["properties"]
    assert (props["notes"]["maxLength"], props["name"]["maxLength"]) == (2000, 200)
    assert (props["garments"]["maxItems"], props["garments"]["uniqueItems"]) == (2, True)
    assert props["where"]["x-show-if"] == {"field": "swelling", "equals": True}
    assert schema["allOf"] == [
        {
            "if": {"properties": {"swelling": {"const": True}}, "required": ["swelling"]},
            "then": {"required": ["where"]},
        }
    ]
    assert schema["required"] == ["arm_cm", "swelling"]
    assert (
        design_from_schema(schema) == _every_kind()
        or schema_from_design(design_from_schema(schema)) == schema
    )


def test_questions_move_and_go() -> None:
    design = _every_kind()
    move(design, 0, -1)  # already first: unchanged
    move(design, 0, 1)
    assert [q.name for q in design.questions][:2] == ["arm_cm", "notes"]
    remove(design, 1)
    assert "notes" not in [q.name for q in design.questions]


def _fields(**overrides: str) -> dict[str, str]:
    base = {
        "title": "Review",
        "questions": "2",
        "q1-label": "Any swelling?",
        "q1-kind": "yesno",
        "q2-label": "Which side (left or right)",
        "q2-kind": "choice",
        "q2-options": "Left arm\nR | Right arm",
        "q2-show_field": "any_swelling",
        "q2-show_values": "Yes",
        "q2-required": "yes",
    }
    return {**base, **overrides}


def test_the_page_fields_become_a_model_with_names_codes_and_reveals() -> None:
    design, errors = read_design(_fields())
    assert errors == {}
    first, second = design.questions
    assert (first.name, second.name) == ("any_swelling", "which_side_left_or_right")
    assert second.options == [("left_arm", "Left arm"), ("R", "Right arm")]
    assert (second.show_field, second.show_values, second.required_when) == (
        "any_swelling",
        [True],
        [True],
    )
    # An answer can be given by its term too.
    design, errors = read_design(
        _fields(**{"q3-label": "Why", "q3-show_field": "which_side_left_or_right",
                   "q3-show_values": "right arm", "questions": "3", "q3-max_length": "100"})
    )  # fmt: skip
    assert errors == {} and design.questions[2].show_values == ["R"]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"q1-label": ""}, "q1-label", "Enter the question text for question 1"),
        ({"q2-options": ""}, "q2-options", "Enter the answers"),
        ({"q2-show_values": "maybe"}, "q2-show_values", "yes or no"),
        ({"q2-show_field": "nothing"}, "q2-show_field", "only be shown after"),
        ({"q1-kind": "integer", "q1-minimum": "5", "q1-maximum": "2"}, "q1-maximum", "lowest number or more"),
        ({"q1-kind": "integer", "q1-minimum": "1.5"}, "q1-minimum", "whole number"),
        ({"q1-kind": "text", "q1-max_length": "5000"}, "q1-max_length", "long text"),
        ({"q2-name": "Bad Name"}, "q2-name", "lower-case"),
        ({"q2-options": "a | A\na | B"}, "q2-options", "twice"),
    ],
)  # fmt: skip
def test_designer_input_problems_are_named_by_field(
    overrides: dict[str, str], field: str, words: str
) -> None:
    _design, errors = read_design(_fields(**overrides))
    assert field in errors and words in errors[field], errors


def test_raw_json_problems_give_line_and_column_then_the_lint() -> None:
    broken = '{\n  "type": "object",\n  "properties": {\n    "a": {"type": "string",}\n  }\n}'
    (problem,) = check_form_text("x.schema.json", broken)
    assert (problem.line, problem.column) == (4, 28)
    assert problem.message.startswith("Line 4, column 28")
    unlimited = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}})
    (lint,) = check_form_text("x.schema.json", unlimited)
    assert "maxLength" in lint.message and "question 'a'" in lint.message
    assert check_form_text("x.schema.json", schema_text(schema_from_design(_every_kind()))) == []


# -- the pages --------------------------------------------------------------------------------


@pytest.fixture
def designer(ward: dict[str, Any], client: Any, auth: Auth) -> dict[str, Any]:  # noqa: F811
    draft = open_draft(ward["manager"], ward["v1"].id)
    auth.login("boss")
    return {**ward, "draft": draft, "client": client, "auth": auth}


def _post(d: dict[str, Any], url: str, data: dict[str, str]) -> Any:
    token = csrf_token(d["client"], f"/pathways/{d['draft'].id}/forms/new")
    return d["client"].post(url, data={**data, "csrf_token": token})


def _new_form(d: dict[str, Any], **fields: str) -> dict[str, str]:
    return {"mode": "designer", "expected_sha256": d["draft"].sha256, "file_name": "review2",
            **_fields(), **fields}  # fmt: skip


def test_only_managers_open_the_designer(designer: dict[str, Any], make_user: Any) -> None:
    draft, client = designer["draft"], designer["client"]
    assert client.get(f"/pathways/{draft.id}/forms").status_code == 200
    page = client.get(f"/pathways/{draft.id}/forms/assess.schema.json").get_data(as_text=True)
    assert 'value="Wound size (cm)"' in page  # the designer, not raw JSON
    make_user("cns", username="nurse9")
    designer["auth"].login("nurse9")
    assert client.get(f"/pathways/{draft.id}/forms/assess.schema.json").status_code == 403
    assert client.post(f"/pathways/{draft.id}/forms/preview", data={}).status_code in (400, 403)


def test_a_form_the_designer_cannot_hold_opens_as_raw_json(designer: dict[str, Any]) -> None:
    draft = designer["draft"]
    files = {f.name: f.content for f in draft.files}
    who = {"type": "object", "properties": {"nurse": {"type": "string", "x-user-role": "cns"}}}
    files["who.schema.json"] = json.dumps(who).encode()
    update_draft(designer["manager"], draft.id, files, draft.sha256)
    text = (
        designer["client"].get(f"/pathways/{draft.id}/forms/who.schema.json").get_data(as_text=True)
    )
    assert "The designer cannot show this form: question &#39;nurse&#39; uses x-user-role" in text
    assert 'id="form-json"' in text and "x-user-role" in text
    # Its preview is the task screen's all the same: a select of the nurses.
    assert 'name="nurse"' in text


def test_add_move_edit_and_remove_questions(designer: dict[str, Any]) -> None:
    url = f"/pathways/{designer['draft'].id}/forms/new"
    page = _post(designer, url, _new_form(designer, action="add")).get_data(as_text=True)
    assert 'id="question-3"' in page and 'id="q3-label"' in page
    assert 'data-focus="q3-label"' in page

    page = _post(designer, url, _new_form(designer, action="down-1")).get_data(as_text=True)
    assert page.index('value="Which side (left or right)"') < page.index('value="Any swelling?"')

    page = _post(designer, url, _new_form(designer, action="up-2")).get_data(as_text=True)
    assert page.index('value="Which side (left or right)"') < page.index('value="Any swelling?"')

    page = _post(designer, url, _new_form(designer, action="remove-2")).get_data(as_text=True)
    assert 'id="question-2"' not in page and 'value="Any swelling?"' in page

    # Edited: the type changed, and the preview beside it follows.
    page = _post(designer, url, _new_form(designer, **{"q1-kind": "integer", "q1-minimum": "0",
                 "q1-maximum": "10", "q2-show_field": "", "action": "preview"}))  # fmt: skip
    assert "A number from 0 to 10" in page.get_data(as_text=True)


def test_saving_a_new_form_writes_it_into_the_draft_audited(designer: dict[str, Any]) -> None:
    draft = designer["draft"]
    response = _post(
        designer, f"/pathways/{draft.id}/forms/new", _new_form(designer, action="save")
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/forms/review2.schema.json")
    db.session.expire_all()
    stored = {f.name: f.content for f in draft.files}
    schema = json.loads(stored["review2.schema.json"])
    assert schema["properties"]["which_side_left_or_right"]["x-show-if"] == {
        "field": "any_swelling",
        "equals": True,
    }
    assert load_forms({"review2.schema.json": stored["review2.schema.json"]})[1] == []
    audit = db.session.scalars(
        select(AuditEventModel)
        .where(AuditEventModel.action == "pathway.draft_saved")
        .order_by(AuditEventModel.id.desc())
    ).first()
    assert audit is not None and audit.actor_name == "boss"
    assert audit.detail is not None and "review2.schema.json" in audit.detail["files"]
    # The same name again is refused, naming the field.
    again = _post(designer, f"/pathways/{draft.id}/forms/new",
                  _new_form(designer, action="save", expected_sha256=draft.sha256))  # fmt: skip
    assert again.status_code == 400
    assert "already has a form called review2.schema.json: choose" in again.get_data(as_text=True)


def test_invalid_designer_input_re_renders_with_an_error_summary(designer: dict[str, Any]) -> None:
    response = _post(designer, f"/pathways/{designer['draft'].id}/forms/new",
                     _new_form(designer, action="save", **{"q1-label": ""}))  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "nhsuk-error-summary" in page
    assert '<a href="#q1-label">Enter the question text for question 1</a>' in page
    # A new form's file name is checked with the questions, and listed first as on the page.
    response = _post(designer, f"/pathways/{designer['draft'].id}/forms/new",
                     _new_form(designer, action="save", file_name="", **{"q1-label": ""}))  # fmt: skip
    page = response.get_data(as_text=True)
    assert page.index('href="#file-name">Enter a file name') < page.index('href="#q1-label"')


def test_a_stale_draft_is_reported_not_overwritten(designer: dict[str, Any]) -> None:
    draft, manager = designer["draft"], designer["manager"]
    started_from = draft.sha256
    files = {f.name: f.content for f in draft.files}
    files["other.schema.json"] = b'{"type": "object", "properties": {}}'
    update_draft(manager, draft.id, files, started_from)  # someone else saved meanwhile
    url = f"/pathways/{draft.id}/forms/assess.schema.json"
    fields = design_fields(design_from_schema(json.loads(files["assess.schema.json"])))
    fields["q1-label"] = "Changed"
    response = _post(designer, url, {**fields, "mode": "designer", "action": "save",
                                     "expected_sha256": started_from})  # fmt: skip
    assert response.status_code == 409
    assert "Someone else saved this draft" in response.get_data(as_text=True)
    db.session.expire_all()
    assert b"Changed" not in next(f.content for f in draft.files if f.name == "assess.schema.json")


def test_raw_json_is_checked_and_saved_as_is(designer: dict[str, Any]) -> None:
    draft = designer["draft"]
    broken = '{\n  "type": "object",\n  "properties": {,}\n}'
    checked = _post(designer, f"/pathways/{draft.id}/forms/check",
                    {"json": broken, "file_name": "assess.schema.json"}).get_json()  # fmt: skip
    assert checked["problems"][0]["line"] == 3 and checked["problems"][0]["column"] == 18
    # Raw mode saves what the expert wrote (a draft keeps work in progress) and shows its
    # problems when the form is opened again.
    unlimited = '{"type": "object", "properties": {"a": {"type": "string"}}}'
    response = _post(designer, f"/pathways/{draft.id}/forms/assess.schema.json",
                     {"mode": "raw", "json": unlimited, "action": "save",
                      "expected_sha256": draft.sha256})  # fmt: skip
    assert response.status_code == 302
    page = designer["client"].get(response.headers["Location"]).get_data(as_text=True)
    assert "needs &#34;maxLength&#34;" in page or 'needs "maxLength"' in page


def _fields_html(html: str) -> str:
    """The form's own markup: its title to the last question (the task's buttons excluded)."""
    start = html.index('<h2 class="nhsuk-heading-m">')
    end = (
        html.index('<div class="app-button-row">', start)
        if "app-button-row" in html[start:]
        else len(html)
    )
    return re.sub(r"\s+", " ", html[start:end]).strip()


def test_the_preview_is_the_task_screen_for_the_same_schema(designer: dict[str, Any]) -> None:
    draft, client = designer["draft"], designer["client"]
    text = (FIXTURES / "tiny" / "forms" / "assess.schema.json").read_text()
    preview = _post(designer, f"/pathways/{draft.id}/forms/preview",
                    {"mode": "raw", "json": text}).get_data(as_text=True)  # fmt: skip
    # The nurse's task screen for the waiting patient's "Assess the wound" task.
    task = ready_task(designer["waiting"].id, "Assess the wound")
    designer["auth"].login(designer["nurse"].username)
    screen = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert _fields_html(preview) == _fields_html(screen)
    assert 'name="size_cm"' in preview

    # The designer's fields give the same preview as their JSON.
    designer["auth"].login("boss")
    fields = design_fields(design_from_schema(json.loads(text)))
    from_fields = _post(designer, f"/pathways/{draft.id}/forms/preview",
                        {**fields, "mode": "designer"}).get_data(as_text=True)  # fmt: skip
    assert _fields_html(from_fields) == _fields_html(preview)


def test_the_preview_can_bring_the_json_schema_written(designer: dict[str, Any]) -> None:
    """The page shows the JSON Schema the designer writes, refreshed with the preview."""
    fields = _fields()
    answer = _post(designer, f"/pathways/{designer['draft'].id}/forms/preview",
                   {**fields, "mode": "designer", "with_schema": "yes"}).get_json()  # fmt: skip
    assert answer["schema"] == schema_text(schema_from_design(read_design(fields)[0]))
    assert 'name="which_side_left_or_right"' in answer["html"]


def test_names_are_made_from_labels_unique_and_valid() -> None:
    from mdt.services.form_designer import NAME, name_for

    assert name_for("Pain score (0-10)", set()) == "pain_score_0_10"
    assert name_for("2nd opinion?", set()) == "q_2nd_opinion"
    assert name_for("Notes", {"notes", "notes_2"}) == "notes_3"
    assert name_for("???", set()) == "question"
    assert all(NAME.fullmatch(name_for(label, set())) for label in ("É", "a" * 300, "Ü ber"))


def test_an_edit_in_the_designer_keeps_what_it_does_not_edit() -> None:
    """The MDT outcome's letter sentences, meeting date and dates against the index date
    survive a changed question text."""
    schema = _load(ROOT / "bpmn" / "forms" / "mdt-outcome.schema.json")
    fields = design_fields(design_from_schema(schema))
    assert fields["q1-label"] == "Meeting date"
    fields["q1-label"] = "Date of the meeting"
    design, errors = read_design(fields)
    assert errors == {}
    edited = schema_from_design(design)
    assert edited["properties"]["meeting_date"]["title"] == "Date of the meeting"
    edited["properties"]["meeting_date"]["title"] = "Meeting date"
    assert edited == schema


def test_json_nested_too_deeply_is_a_problem_not_an_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    (problem,) = check_form_text("x.schema.json", deep)
    assert "nested too deeply" in problem.message
    design, _errors = read_design({"questions": "1", "q1-label": "A", "q1-kept": deep})
    assert design.questions[0].kept == {}


def test_the_endpoints_answer_json_nested_too_deeply(designer: dict[str, Any]) -> None:
    deep = "[" * 20_000 + "]" * 20_000
    draft = designer["draft"]
    checked = _post(designer, f"/pathways/{draft.id}/forms/check", {"json": deep})
    assert "nested too deeply" in checked.get_json()["problems"][0]["message"]
    preview = _post(designer, f"/pathways/{draft.id}/forms/preview", {"mode": "raw", "json": deep})
    assert preview.status_code == 200 and "The preview shows once" in preview.get_data(True)
    page = _post(designer, f"/pathways/{draft.id}/forms/new",
                 {"mode": "raw", "json": deep, "action": "to-designer"})  # fmt: skip
    assert page.status_code == 200 and "not valid JSON" in page.get_data(True)
