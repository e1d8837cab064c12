"""A new pathway from nothing, in the browser only: a manager creates a chemotherapy toxicity
follow-up, uploads its diagram in the editor, builds its two forms in the form designer, its
decision table in the table editor (dmn-js), adds its measures and profile, test-runs and
publishes it; a coordinator registers a patient on it; a nurse and an oncologist complete its
tasks; the record summary, care plan, scorecard and standards report show the new pathway's
own fields and measures. Nothing of the new pathway is Python: the files come from the pages.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mdt.extensions import db
from mdt.models import PathwayStatus, PathwayVersionModel
from mdt.services.actor import SYSTEM
from mdt.services.pathways import publish_files, read_pathway_directory

from ..conftest import FIXTURES, PASSWORD, ROOT
from .conftest import axe_violations, fill_date, shoot, sign_in

KEY, TITLE = "chemo-toxicity", "Chemotherapy toxicity follow-up"
WAIT = 120_000  # a test run on a busy machine
MEASURES = {
    "standards": {"CT1": "Toxicity triaged promptly", "CT2": "Severe toxicity seen in clinic"},
    "measures": [
        {"key": "ct_triage", "code": "CT1", "title": "Side effects triaged the day they were reported",
         "per": "episode", "episodes": ["report"], "start": "episode", "deadline": {"days": 1},
         "evidence": [{"tasks": ["triage_call"], "date": ["call_date"]}], "target": 95,
         "rule": "The triage call, dated by its call date."},
        {"key": "ct_review", "code": "CT2", "title": "Grade 3 or more reviewed in clinic within 2 days",
         "per": "task", "cases": {"tasks": ["triage_call"], "when": {"field": "score", ">=": 3}},
         "start": {"field": ["call_date"]}, "deadline": {"days": 2},
         "evidence": [{"tasks": ["clinic_review"], "date": ["review_date"]}], "target": 90,
         "rule": "A clinic review after a grade 3 or 4, dated by the review."},
    ]
}  # fmt: skip
PROFILE = {
    "title": TITLE,
    "short_name": "Chemo toxicity",
    "measures": "measures.json",
    "summary": [
        {"label": "Worst grade reported", "fields": ["score"]},
        {"label": "Side effects", "fields": ["symptoms"]},
        {"label": "Decision in clinic", "fields": ["action_taken"]},
    ],
    "index_date": {"task": "triage_call", "field": "call_date", "wording": "the call date"},
    "care_plan": {
        "sections": [
            {"heading": "Your chemotherapy", "field": "action_taken",
             "wording": {"continue": "Carry on with the same dose.",
                         "reduce": "Your dose is reduced.",
                         "stop": "Your chemotherapy is stopped for now."}},
        ]
    },
}  # fmt: skip


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (imported here: the browser fixtures skip without it)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _question(page: Any, number: int, text: str, kind: str) -> Any:
    if number > 1:
        page.get_by_role("button", name="Add a question").click()
    question = page.get_by_role("group", name=f"Question {number}", exact=True)
    question.get_by_label("Question text").fill(text)
    question.get_by_label("Type of answer").select_option(label=kind)
    return question


def _design_form(page: Any, draft_id: int, name: str, title: str, build: Any) -> None:
    page.goto(f"/pathways/{draft_id}/forms/new")
    page.get_by_label("File name").fill(name)
    page.get_by_label("Form title").fill(title)
    build(page)
    page.get_by_role("button", name="Save form to the draft").click()
    page.get_by_text(f"{name}.schema.json is saved in the draft.").wait_for()


def _triage_form(page: Any) -> None:
    _question(page, 1, "Call date", "Date").get_by_label("An answer is required").check()
    score = _question(page, 2, "Score", "Whole number")
    score.get_by_label("Hint (optional)").fill("The worst grade of any side effect (CTCAE)")
    score.get_by_label("Lowest number allowed").fill("0")
    score.get_by_label("Highest number allowed").fill("4")
    score.get_by_label("An answer is required").check()
    symptoms = _question(page, 3, "Symptoms", "Checkboxes (any answers from a list)")
    symptoms.get_by_label("Answers to choose from").fill(
        "diarrhoea | Diarrhoea\nfever | Fever\nnausea | Nausea or vomiting"
    )


def _review_form(page: Any) -> None:
    _question(page, 1, "Review date", "Date").get_by_label("An answer is required").check()
    action = _question(page, 2, "Action taken", "One answer from a list")
    action.get_by_label("Answers to choose from").fill(
        "continue | Continue the same dose\nreduce | Reduce the dose\nstop | Stop treatment"
    )
    action.get_by_label("An answer is required").check()


def _edit_cell(page: Any, cell: Any, text: str) -> None:
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def _decision_table(page: Any, draft_id: int) -> None:
    """Grade 3 or more needs a clinic review: the starter table's rule changed, and a last
    rule for every other grade, in dmn-js."""
    page.goto(f"/pathways/{draft_id}/decision-tables")
    page.get_by_label("Title").fill("Needs a clinic review")
    page.get_by_label("Decision id").fill("needs_review")
    page.get_by_role("button", name="Add a decision table").click()
    page.locator("#dmn-editor[data-ready='yes']").wait_for(state="attached")
    table = page.locator("#dmn-editor")
    _edit_cell(page, table.locator("td.input-cell").first, ">= 3")
    _edit_cell(page, table.locator("td.output-cell").first, "True")
    table.locator("td.add-rule-add, .add-rule").first.click()
    _edit_cell(page, table.locator("td.output-cell").nth(1), "False")
    page.locator("h1").click()  # leave the cell
    assert table.locator("td.input-cell", has_text=">= 3").count() == 1
    shoot(page, "new-pathway-decision-table")
    page.get_by_role("button", name="Save and check").click()
    page.get_by_text("needs_review.dmn is saved in the draft.").wait_for()
    assert page.locator("#problems").count() == 0, page.locator("#problems").inner_text()


def _add_json(page: Any, name: str, content: dict[str, Any]) -> None:
    page.get_by_label("New form file name").fill(name)
    page.get_by_role("button", name="Add form").click()
    page.locator("#form-json-name", has_text=name).wait_for()
    page.locator("#form-json").fill(json.dumps(content, indent=2))


def _editor(page: Any, draft_id: int) -> None:
    page.goto(f"/pathways/{draft_id}/edit")
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")


def _manager_builds_and_publishes(page: Any) -> int:
    sign_in(page, "builder", PASSWORD)
    page.goto("/pathways")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Key").fill(KEY)
    page.get_by_role("button", name="Create the pathway").click()
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    draft_id = int(re.search(r"/pathways/(\d+)/edit", page.url).group(1))  # type: ignore[union-attr]

    # The diagram: uploaded in the editor over the starter, saved with its problems (the
    # forms and the table it names do not exist yet).
    page.locator("#open-file").set_input_files(
        str(FIXTURES / "chemo_toxicity" / "chemo_toxicity.bpmn")
    )
    page.locator("#editor-status", has_text="replaced").wait_for()
    page.get_by_role("button", name="Save and check").click()
    page.locator("#problems").wait_for()

    _design_form(page, draft_id, "triage-call", "Toxicity triage call", _triage_form)
    _design_form(page, draft_id, "clinic-review", "Clinic review", _review_form)
    _decision_table(page, draft_id)

    _editor(page, draft_id)
    _add_json(page, "measures.json", MEASURES)
    _add_json(page, "profile.json", PROFILE)
    page.get_by_role("button", name="Save and check").click()
    page.locator("#editor-status", has_text="No problems found").wait_for(timeout=WAIT)
    shoot(page, "new-pathway-editor-checked")

    page.get_by_role("button", name="Test run").click()
    page.locator("#pathway-editor[data-test-run]").wait_for(state="attached", timeout=WAIT)
    page.get_by_role("button", name="Publish").click()
    confirm = page.get_by_label("I have read the warnings and want to publish this version anyway")
    published = page.locator("#published")
    published.or_(confirm).first.wait_for(timeout=WAIT)
    if confirm.is_visible():
        confirm.check()
        page.get_by_role("button", name="Publish").click()
    published.wait_for(timeout=WAIT)
    assert "is published" in published.inner_text()
    return draft_id


def _sign_out(page: Any) -> None:
    page.context.clear_cookies()


def _coordinator_registers(page: Any) -> str:
    sign_in(page, "coord", PASSWORD)
    page.goto("/patients/new")
    page.get_by_label("NHS number").fill("9990000026")
    page.get_by_label("First name").fill("Nell")
    page.get_by_label("Last name").fill("Toxicity")
    born = page.get_by_role("group", name="Date of birth")
    born.get_by_label("Day").fill("9")
    born.get_by_label("Month").fill("9")
    born.get_by_label("Year").fill("1961")
    page.get_by_role("group", name="Pathway to start").get_by_label(TITLE).check()
    page.get_by_role("button", name="Register and start the pathway").click()
    page.get_by_text("is registered and their pathway has started").wait_for()
    return str(page.url)


def _complete(page: Any, record: str, task: str, fill: Any) -> None:
    page.goto(record)
    page.get_by_role("link", name=task).first.click()
    fill(page)
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text(task).first.wait_for()


def _triage(page: Any) -> None:
    fill_date(page, "Call date")
    page.get_by_label("Score").fill("3")
    page.get_by_label("Diarrhoea").check()


def _review(page: Any) -> None:
    fill_date(page, "Review date")
    page.get_by_label("Reduce the dose").check()


def test_a_manager_builds_a_new_pathway_in_the_browser_and_it_runs_everywhere(
    page: Any, make_user: Any
) -> None:
    publish_files(
        SYSTEM, "secondary-breast-cancer", "Secondary breast cancer care pathway",
        *read_pathway_directory(ROOT / "bpmn"),
    )  # fmt: skip
    for role, name in (("manager", "builder"), ("coordinator", "coord"), ("cns", "nurse"),
                       ("oncologist", "onc")):  # fmt: skip
        make_user(role, username=name)

    draft_id = _manager_builds_and_publishes(page)
    version = db.session.get(PathwayVersionModel, draft_id)
    assert version is not None
    db.session.refresh(version)
    assert version.status == PathwayStatus.PUBLISHED and version.key == KEY
    assert sorted((f.kind, f.name) for f in version.files) == [
        ("bpmn", "chemo_toxicity.bpmn"),
        ("dmn", "needs_review.dmn"),
        ("form", "clinic-review.schema.json"),
        ("form", "triage-call.schema.json"),
        ("measures", "measures.json"),
        ("profile", "profile.json"),
    ]
    triage = json.loads(
        next(f.content for f in version.files if f.name == "triage-call.schema.json")
    )
    assert list(triage["properties"]) == ["call_date", "score", "symptoms"]
    table = next(f.content for f in version.files if f.name == "needs_review.dmn").decode()
    assert "&gt;= 3" in table
    _sign_out(page)
    record = _coordinator_registers(page)
    _sign_out(page)

    sign_in(page, "nurse", PASSWORD)
    _complete(page, record, "Toxicity triage call", _triage)
    _sign_out(page)
    sign_in(page, "onc", PASSWORD)
    _complete(page, record, "Review in the toxicity clinic", _review)

    page.goto(record)
    summary = page.locator(".nhsuk-summary-list").first.inner_text()
    assert re.search(r"Worst grade reported\s+3", summary), summary
    assert re.search(r"Side effects\s+Diarrhoea", summary), summary
    assert re.search(r"Decision in clinic\s+Reduce the dose", summary), summary
    for measure in ("ct_triage", "ct_review"):
        row = page.locator(f"tr[data-measure='{measure}']")
        assert row.get_attribute("data-status") == "met", row.inner_text()
    shoot(page, "new-pathway-record")
    assert axe_violations(page) == []

    page.get_by_role("button", name="Patient's care plan").click()
    assert page.get_by_role("heading", name="Your chemotherapy").is_visible()
    assert page.get_by_text("Your dose is reduced.").is_visible()
    _sign_out(page)

    sign_in(page, "builder", PASSWORD)
    page.goto("/reports/standards")
    page.get_by_label("Pathway", exact=True).select_option(KEY)
    page.get_by_role("button", name="Update").click()
    report = page.locator("main").inner_text()
    assert "Side effects triaged the day they were reported" in report
    assert "Grade 3 or more reviewed in clinic within 2 days" in report
    assert "First contact with the CNS key worker" not in report
    assert "IS1 CNS information" not in report  # only the standards this pathway measures
    assert "CT1 Toxicity triaged promptly" in report  # titled as the pathway declares it
    shoot(page, "new-pathway-report")
