"""A manager reads the standards dashboard, its charts, and follows a number to the patients."""

from __future__ import annotations

from ..conftest import PASSWORD
from ..test_standards_report import build_cohort
from .conftest import axe_violations, shoot, sign_in


def test_dashboard_charts_and_drill_down(page, pathway, make_user) -> None:
    build_cohort(pathway.id)
    make_user("manager", username="boss")
    sign_in(page, "boss", PASSWORD)
    page.get_by_role("link", name="Reports").click()
    page.get_by_label("From").fill("2026-01-01")
    page.get_by_label("To").fill("2026-06-30")
    page.get_by_role("button", name="Update").click()
    page.locator("body[data-charts-drawn='11']").wait_for(state="attached")
    # Chart.js drew on every canvas (a blank canvas has no non-transparent pixel).
    painted = page.evaluate(
        """() => [...document.querySelectorAll('canvas')].filter(c => {
               const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
               for (let i = 3; i < d.length; i += 4) { if (d[i]) return true; }
               return false; }).length"""
    )
    assert painted == 11
    shoot(page, "reports-standards")
    assert axe_violations(page) == []
    # Time is not frozen here: patient C's first contact (due in July) is overdue too.
    page.get_by_role(
        "link", name="3 patients who missed First contact with the CNS key worker"
    ).click()
    page.get_by_role("heading", name="First contact with the CNS key worker").wait_for()
    rows = page.locator("tbody tr")
    assert rows.count() == 3
    assert "COHORTB, Pat" in rows.nth(0).inner_text() and "Done late" in rows.nth(0).inner_text()
    shoot(page, "reports-standards-missed")
    assert axe_violations(page) == []
    page.get_by_role("link", name="COHORTD, Pat").click()
    page.get_by_role("heading", name="COHORTD, Pat").first.wait_for()
    page.goto("/reports/meetings")
    assert axe_violations(page) == []
    shoot(page, "reports-meetings")
    page.goto("/reports/workload")
    assert axe_violations(page) == []
    shoot(page, "reports-workload")
