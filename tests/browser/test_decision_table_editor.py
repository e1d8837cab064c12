"""A manager changes a threshold in a decision table with dmn-js, from the pathway editor, and
saves it into the draft."""

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
    page.get_by_role("link", name="Decision tables").click()
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
