"""A manager moves running patients onto the new version of their pathway after a dry run."""

from __future__ import annotations

from typing import Any

from ..conftest import PASSWORD
from ..engine.test_migration import with_photo_task
from ..test_pathway_migration import _publish, ward  # noqa: F401 - the fixture
from .conftest import axe_violations, shoot, sign_in


def test_dry_run_and_move(page: Any, ward: dict[str, Any]) -> None:  # noqa: F811
    _publish(ward["manager"], with_photo_task())
    sign_in(page, "boss", PASSWORD)
    page.get_by_role("link", name="Pathways").click()
    page.get_by_role("link", name="Move to the current version").click()
    page.get_by_role("heading", name="Move patients from version 1 to version 2").wait_for()
    assert page.get_by_text("Photograph the wound").count() == 1
    shoot(page, "pathway-move-dry-run")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Move 2 patients to version 2").click()
    page.get_by_text("Moved 2 patients.").wait_for()
    shoot(page, "pathway-moved")
    assert axe_violations(page) == []
