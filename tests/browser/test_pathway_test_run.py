"""A manager test-runs a draft in the editor: the diagram shows what the test patients reached
and where one was stopped, each problem with the path that led there; errors keep it from
being published, warnings are published once the manager ticks that they read them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from mdt.services.pathway_drafts import save_draft

from ..conftest import FIXTURES, PASSWORD, ROOT
from ..test_pathway_test_run import BAD, GOOD
from .conftest import axe_violations, shoot, sign_in

WAIT = 120_000  # a test run on a busy machine


def _laid_out(xml: str, tmp_path: Path) -> bytes:
    """The wound care diagram with a layout, so that the editor can draw it."""
    path = tmp_path / "wound_care.bpmn"
    path.write_text(xml)
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "layout_bpmn.py"), str(path)], check=True
    )
    return path.read_bytes()


def _draft(manager: Any, xml: str, tmp_path: Path) -> Any:
    forms = {p.name: p.read_bytes() for p in (FIXTURES / "tiny" / "forms").glob("*.json")}
    files = {"wound_care.bpmn": _laid_out(xml, tmp_path), **forms}
    return save_draft(manager, "wound-care", "Wound care", files)


def test_the_test_run_is_drawn_on_the_diagram_and_errors_stop_the_publish(
    page: Any, tiny_pathway: Any, make_user: Any, actor: Any, tmp_path: Path
) -> None:
    manager = actor(make_user("manager", username="trial-boss"))
    (old, new), *_ = BAD["a condition on data nothing sets"]
    draft = _draft(manager, GOOD.replace(old, new, 1), tmp_path)

    sign_in(page, "trial-boss", PASSWORD)
    page.goto(f"/pathways/{draft.id}/edit")
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    page.get_by_role("button", name="Test run").click()
    page.locator("#pathway-editor[data-test-run='errors']").wait_for(state="attached", timeout=WAIT)

    # Reached in green, stopped in red, on the diagram.
    page.locator("g.djs-element.app-reached[data-element-id='assess']").wait_for()
    page.locator("g.djs-element.app-reached[data-element-id='f_low']").wait_for(state="attached")
    page.locator("g.djs-element.app-failed[data-element-id='severe']").wait_for()
    report = page.locator("#test-run").inner_text()
    assert "'wound_depth'" in report
    assert "Reached by: Start: a patient of 80 → Assess the wound (size_cm=50)" in report
    shoot(page, "pathway-test-run-errors")
    assert axe_violations(page) == []

    # Publishing stops at the errors, listed with the draft's problems.
    page.get_by_role("button", name="Publish").click()
    page.locator("#editor-status", has_text="the test run found errors").wait_for(timeout=WAIT)
    assert "wound_depth" in page.locator("#problem-list").inner_text()
    assert page.locator("#published").is_hidden()


def test_warnings_are_published_once_the_manager_confirms_them(
    page: Any, tiny_pathway: Any, make_user: Any, actor: Any, tmp_path: Path
) -> None:
    manager = actor(make_user("manager", username="warned-boss"))
    never = GOOD.replace('severity == "high"', 'severity == "extreme"', 1)
    draft = _draft(manager, never, tmp_path)

    sign_in(page, "warned-boss", PASSWORD)
    page.goto(f"/pathways/{draft.id}/edit")
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    page.get_by_role("button", name="Publish").click()
    page.locator("#pathway-editor[data-test-run='warnings']").wait_for(
        state="attached", timeout=WAIT
    )
    assert "No test patient took this branch" in page.locator("#test-run").inner_text()
    page.locator("g.djs-element.app-reached[data-element-id='f_low']").wait_for(state="attached")
    assert page.locator("g.djs-element.app-reached[data-element-id='review']").count() == 0
    assert page.locator("#published").is_hidden()
    assert axe_violations(page) == []

    page.get_by_label("I have read the warnings and want to publish this version anyway").check()
    page.get_by_role("button", name="Publish").click()
    page.locator("#published").wait_for(timeout=WAIT)
    assert f"Version {draft.version} is published" in page.locator("#published").inner_text()
    shoot(page, "pathway-test-run-warnings-published")
