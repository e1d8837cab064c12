"""A manager sees which decision table a business rule task applies, then changes a threshold in
that table with dmn-js, from the pathway editor, and saves it into the draft."""

from __future__ import annotations

from typing import Any

from mdt.extensions import db
from mdt.models import PathwayStatus, PathwayVersionModel

from ..conftest import PASSWORD
from ..decision_pathway import KEY, TABLE, publish_decision_pathway
from .conftest import axe_violations, shoot, sign_in


def test_manager_changes_a_threshold_in_the_decision_table_editor(
    page: Any, make_user: Any
) -> None:
    publish_decision_pathway(threshold=5)
    make_user("manager", username="rules-boss")
    sign_in(page, "rules-boss", PASSWORD)
    page.goto("/pathways")
    page.get_by_role("button", name="Make a new draft").click()
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    page.get_by_role("link", name="Decision tables", exact=True).click()
    page.get_by_role("link", name=f"Edit {TABLE}").click()

    page.locator("#dmn-editor[data-ready='yes']").wait_for(state="attached")
    table = page.locator("#dmn-editor")
    assert table.get_by_text("Wound size (cm)").is_visible()  # the input column, by its label
    cell = table.locator("td.input-cell", has_text=">= 5")
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(">= 3")
    table.get_by_text("Large wounds are reviewed by an oncologist").click()  # leave the cell
    assert table.locator("td.input-cell", has_text=">= 3").count() == 1
    assert page.locator("#xml").is_hidden()  # the XML box is only for pages without dmn-js
    assert axe_violations(page) == []
    shoot(page, "decision-table-editor")

    page.get_by_role("button", name="Save and check").click()
    page.get_by_text(f"{TABLE} is saved in the draft.").wait_for()
    page.locator("#dmn-editor[data-ready='yes']").wait_for(state="attached")
    assert page.locator("#dmn-editor td.input-cell", has_text=">= 3").count() == 1
    assert page.locator("#problems").count() == 0  # the saved table passes the checks
    shoot(page, "decision-table-saved")

    db.session.expire_all()
    draft = db.session.scalars(
        db.select(PathwayVersionModel).where(
            PathwayVersionModel.key == KEY, PathwayVersionModel.status == PathwayStatus.DRAFT
        )
    ).one()
    content = next(f.content for f in draft.files if f.name == TABLE).decode()
    assert "&gt;= 3" in content and "&gt;= 5" not in content
    assert "wound_severity" in content and "Large wounds are reviewed" in content


def test_the_pathways_own_rules_open_in_both_editors(
    page: Any, pathway: Any, make_user: Any
) -> None:
    make_user("manager", username="rules-reader")
    sign_in(page, "rules-reader", PASSWORD)
    page.goto("/pathways")
    page.get_by_role("button", name="Make a new draft").click()
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    # The diagram editor shows which table a business rule task applies.
    page.locator("#diagram-file").select_option("holistic_needs_assessment.bpmn")
    diagram = "#pathway-editor[data-diagram='holistic_needs_assessment.bpmn']"
    page.locator(diagram).wait_for(state="attached")
    page.locator("#editor-canvas").scroll_into_view_if_needed()
    page.locator("g.djs-element[data-element-id='decide_referrals'] .djs-hit-all").click()
    choice = page.locator("#prop-decision")
    choice.wait_for()
    assert choice.input_value() == "hna_referrals"
    assert sorted(choice.locator("option").all_inner_texts())[1:] == [
        "financial_eligibility",
        "hna_concerns",
        "hna_referrals",
        "palliative_triggers",
    ]
    shoot(page, "pathway-editor-business-rule-task")

    page.get_by_role("link", name="Decision tables", exact=True).click()
    page.get_by_role("link", name="Edit hna_referrals.dmn").click()
    page.locator("#dmn-editor[data-ready='yes']").wait_for(state="attached")
    table = page.locator("#dmn-editor")
    assert table.get_by_text("Distress thermometer").is_visible()
    assert table.locator("td.input-cell", has_text=">= 4").count() == 4  # "4 or more"
    shoot(page, "decision-table-hna-referrals")


def test_a_tables_problem_in_the_diagram_editor_leads_to_the_table(
    page: Any, make_user: Any, actor: Any
) -> None:
    from mdt.services.decision_tables import save_table
    from mdt.services.pathway_drafts import open_draft

    from ..decision_pathway import severity_table

    boss = make_user("manager", username="rules-fixer")
    draft = open_draft(actor(boss), publish_decision_pathway().id)
    broken = severity_table().replace(b'"high"', b"assessment[")
    save_table(actor(boss), draft.id, TABLE, broken.decode(), draft.sha256)
    sign_in(page, "rules-fixer", PASSWORD)
    page.goto(f"/pathways/{draft.id}/edit")
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    page.get_by_role("button", name="Save and check").click()
    problem = page.locator("#problem-list a", has_text=TABLE)
    problem.wait_for()
    problem.click()
    page.get_by_role("heading", name=f"Edit {TABLE}").wait_for()
    assert "rule large" in page.locator("#problem-list").inner_text()
    shoot(page, "decision-table-problem")
