"""A manager builds a form in the form designer, beside the diagram editor: a text, a number
with a range, a yes/no that reveals a choice, checkboxes; reorders, previews it as clinicians
will see it, and saves it into the draft."""

from __future__ import annotations

import json
from typing import Any

from mdt.extensions import db
from mdt.models import PathwayStatus, PathwayVersionModel

from ..conftest import PASSWORD
from .conftest import axe_violations, shoot, sign_in


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (imported here: the browser fixtures skip without it)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _question(page: Any, number: int) -> Any:
    return page.get_by_role("group", name=f"Question {number}", exact=True)


def _add_question(page: Any, number: int, text: str, kind: str) -> Any:
    page.get_by_role("button", name="Add a question").click()
    question = _question(page, number)
    question.get_by_label("Question text").fill(text)
    question.get_by_label("Type of answer").select_option(label=kind)
    return question


def test_manager_builds_previews_and_saves_a_form(
    page: Any, tiny_pathway: Any, make_user: Any
) -> None:
    make_user("manager", username="designer-boss")
    sign_in(page, "designer-boss", PASSWORD)
    page.goto("/pathways")
    page.get_by_role("button", name="Make a new draft").click()
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    page.get_by_role("link", name="Build forms question by question in the form designer").click()
    assert "Design assess.schema.json" in page.content()  # the draft's forms are listed
    page.get_by_role("link", name="Add a form").click()
    # Saved empty: the NHS error summary, linked to the question's field.
    page.get_by_role("button", name="Save form to the draft").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("Enter a file name")
    expect(summary).to_contain_text("Enter the question text for question 1")
    shoot(page, "form-designer-errors")
    assert axe_violations(page) == []

    page.get_by_label("File name").fill("lymphoedema-review")
    page.get_by_label("Form title").fill("Lymphoedema review")
    first = _question(page, 1)
    first.get_by_label("Question text").fill("Therapist's name")
    first.get_by_label("Hint (optional)").fill("As on their badge")

    arm = _add_question(page, 2, "Arm circumference (cm)", "Number (decimals allowed)")
    # Only the settings of the chosen type show.
    assert arm.get_by_label("Lowest number allowed").is_visible()
    assert not arm.get_by_label("Answers to choose from").is_visible()
    arm.get_by_label("Lowest number allowed").fill("10")
    arm.get_by_label("Highest number allowed").fill("80")
    arm.get_by_label("An answer is required").check()

    swelling = _add_question(page, 3, "Is there swelling?", "Yes or no")
    swelling.get_by_label("An answer is required").check()

    where = _add_question(page, 4, "Where is the swelling?", "One answer from a list")
    where.get_by_label("Answers to choose from").fill("Left arm\nRight arm\nBoth arms")
    where.get_by_label("Ask this question only after an answer to").select_option(
        label="Question 3: Is there swelling?"
    )
    where.get_by_label("The answer that shows it").fill("Yes")
    where.get_by_label("An answer is required").check()

    garments = _add_question(page, 5, "Garments supplied", "Checkboxes (any answers from a list)")
    garments.get_by_label("Answers to choose from").fill("Sleeve\nGlove\nNight garment")

    # Reordered with buttons: the garments before the reveal, then back.
    # (Each button is a form post: expect() waits for the page that comes back.)
    garments.get_by_role("button", name="Move up").click()
    expect(_question(page, 4).get_by_label("Question text")).to_have_value("Garments supplied")
    _question(page, 4).get_by_role("button", name="Move down").click()
    expect(_question(page, 5).get_by_label("Question text")).to_have_value("Garments supplied")
    expect(_question(page, 4).get_by_label("Question text")).to_have_value("Where is the swelling?")

    # The live preview follows typing, rendered as the task screen renders it.
    _question(page, 1).get_by_label("Hint (optional)").fill("As on their badge, in full")
    preview = page.locator("#form-preview")
    preview.get_by_text("As on their badge, in full").wait_for()
    assert preview.get_by_role("heading", name="Lymphoedema review").is_visible()
    assert preview.get_by_text("A number from 10 to 80").is_visible()
    assert not preview.get_by_label("Left arm").is_visible()  # revealed by Yes only
    preview.get_by_label("Yes").check()
    preview.get_by_label("Left arm").wait_for()
    assert preview.get_by_label("Night garment").is_visible()
    page.get_by_text("JSON Schema (for experts)").click()
    # Refreshed with the preview: the hint typed since the last post is in it.
    expect(page.locator("#generated-json")).to_contain_text('"As on their badge, in full"')
    shoot(page, "form-designer-built")
    assert axe_violations(page) == []

    page.get_by_role("button", name="Save form to the draft").click()
    page.get_by_text("lymphoedema-review.schema.json is saved in the draft.").wait_for()
    shoot(page, "form-designer-saved")

    draft = db.session.query(PathwayVersionModel).filter_by(status=PathwayStatus.DRAFT).one()
    db.session.refresh(draft)
    stored = next(f for f in draft.files if f.name == "lymphoedema-review.schema.json")
    schema = json.loads(stored.content)
    assert list(schema["properties"]) == [
        "therapist_s_name",
        "arm_circumference_cm",
        "is_there_swelling",
        "where_is_the_swelling",
        "garments_supplied",
    ]
    assert schema["required"] == ["arm_circumference_cm", "is_there_swelling"]
    assert schema["properties"]["arm_circumference_cm"] | {} == {
        "type": "number",
        "title": "Arm circumference (cm)",
        "minimum": 10,
        "maximum": 80,
    }
    assert schema["properties"]["where_is_the_swelling"]["x-show-if"] == {
        "field": "is_there_swelling",
        "equals": True,
    }
    assert schema["allOf"][0]["then"] == {"required": ["where_is_the_swelling"]}
    assert schema["properties"]["garments_supplied"]["maxItems"] == 3


def test_experts_edit_raw_json_checked_as_they_type(
    page: Any, tiny_pathway: Any, make_user: Any
) -> None:
    make_user("manager", username="json-boss")
    sign_in(page, "json-boss", PASSWORD)
    page.goto("/pathways")
    page.get_by_role("button", name="Make a new draft").click()
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    page.get_by_role("link", name="Build forms question by question in the form designer").click()
    page.get_by_role("link", name="Design assess.schema.json").click()
    page.get_by_text("JSON Schema (for experts)").click()
    page.get_by_role("button", name="Edit as JSON").click()

    area = page.get_by_label("JSON Schema", exact=True)
    text = area.input_value()
    area.fill(text.replace('"maxLength": 2000', '"maxLength": 2000,,'))
    problems = page.locator("#raw-problem-list")
    problems.get_by_text("the JSON is not valid").wait_for()
    assert "Line " in problems.inner_text() and "column" in problems.inner_text()
    area.fill(text.replace(', "maxLength": 2000', "").replace(',\n      "maxLength": 2000', ""))
    problems.get_by_text('needs "maxLength"').wait_for()
    shoot(page, "form-designer-raw")
    assert axe_violations(page) == []

    area.fill(text)
    page.locator("#raw-problems[hidden]").wait_for(state="attached")
    expect(page.locator("#raw-status")).to_have_text("No problems found.")
    page.get_by_role("button", name="Open in the designer").click()
    expect(_question(page, 1).get_by_label("Question text")).to_have_value("Wound size (cm)")


def test_the_designer_works_without_javascript(
    browser: Any, live_server: str, tiny_pathway: Any, make_user: Any
) -> None:
    """Progressive enhancement: every change is a form post, the preview a button."""
    from mdt.services.actor import actor_for
    from mdt.services.pathway_drafts import open_draft

    boss = make_user("manager", username="plain-boss")
    draft = open_draft(actor_for(boss), tiny_pathway.id)
    context = browser.new_context(base_url=live_server, java_script_enabled=False)  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, "plain-boss", PASSWORD)
        page.goto(f"/pathways/{draft.id}/forms/new")
        page.get_by_label("File name").fill("plain")
        _question(page, 1).get_by_label("Question text").fill("Pain score")
        _question(page, 1).get_by_label("Type of answer").select_option(label="Whole number")
        _question(page, 1).get_by_label("Highest number allowed").fill("x")
        page.get_by_role("button", name="Save form to the draft").click()
        # Refused with the NHS error summary, linking to the field.
        summary = page.locator(".nhsuk-error-summary")
        expect(summary).to_contain_text("The highest number for question 1 must be a whole number")
        summary.get_by_role("link").first.click()
        _question(page, 1).get_by_label("Highest number allowed").fill("10")
        page.get_by_role("button", name="Preview", exact=True).click()
        expect(page.locator("#form-preview")).to_contain_text("Pain score")
        shoot(page, "form-designer-no-js")
        page.get_by_role("button", name="Save form to the draft").click()
        page.get_by_text("plain.schema.json is saved in the draft.").wait_for()
    finally:
        context.close()


def test_two_forms_built_with_the_steps_other_tests_use(
    page: Any, tiny_pathway: Any, make_user: Any
) -> None:
    """tests/browser/designer_steps.py, as the end-to-end pathway test drives the designer."""
    from mdt.services.actor import actor_for
    from mdt.services.pathway_drafts import open_draft

    from .designer_steps import design_form

    boss = make_user("manager", username="steps-boss")
    draft = open_draft(actor_for(boss), tiny_pathway.id)
    sign_in(page, "steps-boss", PASSWORD)
    first = design_form(page, draft.id, "referral", "Lymphoedema referral", [
        {"text": "Referred on", "kind": "Date", "dates": "Today or earlier", "required": True},
        {"text": "Which arm?", "kind": "One answer from a list", "required": True,
         "answers": ["left | Left", "right | Right", "both | Both"], "name": "arm"},
    ])  # fmt: skip
    # The saved form opens again in the designer; its date has the task screen's Today button.
    expect(page.locator("#form-preview").get_by_role("button", name="Today")).to_be_visible()
    second = design_form(page, draft.id, "review.v2.json", "Lymphoedema review", [
        {"text": "Swelling?", "kind": "Yes or no", "required": True, "name": "swelling"},
        {"text": "Volume difference (%)", "kind": "Whole number", "minimum": 0, "maximum": 100,
         "show_after": 1, "show_when": "Yes", "required": True},
        {"text": "Garments", "kind": "Checkboxes (any answers from a list)",
         "answers": ["Sleeve", "Glove"], "hint": "Those supplied today"},
        {"text": "Plan", "kind": "Long text (several lines)", "max_length": 1000},
    ])  # fmt: skip
    assert (first, second) == ("referral.schema.json", "review.v2.json")
    db.session.expire_all()
    stored = {f.name: json.loads(f.content) for f in draft.files if f.name in (first, second)}
    assert stored[first]["properties"]["referred_on"] == {
        "type": "string", "format": "date", "title": "Referred on", "x-date": "past"
    }  # fmt: skip
    assert [o["const"] for o in stored[first]["properties"]["arm"]["oneOf"]] == [
        "left", "right", "both"
    ]  # fmt: skip
    review = stored[second]
    assert review["properties"]["volume_difference"]["x-show-if"] == {
        "field": "swelling",
        "equals": True,
    }
    assert review["allOf"][0]["then"] == {"required": ["volume_difference"]}
    assert review["properties"]["plan"]["maxLength"] == 1000
