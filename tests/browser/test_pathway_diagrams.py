"""Every diagram of the pathway opens in bpmn-js without import warnings."""

from __future__ import annotations

import pytest

from ..conftest import PASSWORD, ROOT
from .conftest import axe_violations, shoot, sign_in

DIAGRAMS = sorted(p.name for p in (ROOT / "bpmn").glob("*.bpmn"))


@pytest.mark.parametrize("name", DIAGRAMS)
def test_diagram_opens_in_bpmn_js_without_warnings(page, pathway, make_user, name: str) -> None:
    make_user("manager", username="boss")
    sign_in(page, "boss", PASSWORD)
    page.goto(f"/pathways/{pathway.id}/diagram?file={name}")
    diagram = page.locator("#diagram")
    page.locator("#diagram[data-import-status]").wait_for(state="attached")
    assert diagram.get_attribute("data-import-status") == "ok"
    assert diagram.get_attribute("data-import-warnings") == "0"
    shoot(page, f"diagram-{name.removesuffix('.bpmn')}")
    if name == DIAGRAMS[0]:
        assert axe_violations(page) == []
