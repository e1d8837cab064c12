"""A manager whose files hold several executable processes chooses the one that starts the
pathway in the editor; the choice is saved with the draft and checked."""

from __future__ import annotations

from typing import Any

from mdt.extensions import db
from mdt.models import PathwayVersionModel
from mdt.services.pathway_drafts import save_draft

from ..conftest import PASSWORD
from ..engine.bpmn_builders import FORM, chain, process, user_task
from .conftest import axe_violations, sign_in


def _two_starts() -> dict[str, bytes]:
    second = process(chain(user_task("b", "Second"))).replace(b'id="proc"', b'id="other"')
    second = second.replace(b'id="lane"', b'id="lane2"').replace(b'id="ls"', b'id="ls2"')
    return {"first.bpmn": process(chain(user_task("a", "First"))), "second.bpmn": second,
            "f.json": FORM}  # fmt: skip


def test_the_manager_chooses_which_process_starts_the_pathway(
    page: Any, live_server: str, make_user: Any, actor: Any
) -> None:
    manager = actor(make_user("manager", username="chooser"))
    draft = save_draft(manager, "two-starts", "Two starts", _two_starts(), "other")

    sign_in(page, "chooser", PASSWORD)
    page.goto(f"{live_server}/pathways/{draft.id}/edit")
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    choice = page.get_by_label("Starts the pathway")
    assert choice.is_visible() and choice.input_value() == "other"
    assert axe_violations(page) == []

    choice.select_option("")  # let the check decide: it cannot, and says how to choose
    page.get_by_role("button", name="Save and check").click()
    page.locator("#problems").wait_for()
    assert "Several processes could start the pathway" in page.locator("#problem-list").inner_text()

    choice.select_option("proc")
    page.get_by_role("button", name="Save and check").click()
    page.locator("#editor-status", has_text="No problems found").wait_for()
    db.session.expire_all()
    assert db.session.get(PathwayVersionModel, draft.id).process_id == "proc"
