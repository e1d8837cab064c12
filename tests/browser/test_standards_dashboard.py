"""The standards in the browser, on the worked example of docs/standards-report.md read at its
moment (30 June 2026): every status on the scorecard of the patient who should show it, the
manager's dashboard and its charts, and a number followed to its patients."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from freezegun import freeze_time

from ..conftest import PASSWORD
from ..test_standards_report import doc_scorecard
from ..worked_example import PATIENTS, READ_AT, drive, patient_name
from .conftest import axe_violations, shoot, sign_in

# Where each status shows, as the doc's worked example has it.
SHOWN_BY = {
    "Met": ("A", "is1_first_contact"),
    "Met late": ("D", "is2_key_worker"),
    "Declined by the patient": ("E", "is3_hna"),
    "Patient objects": ("E", "tc3_mdt_gp"),
    "Overdue": ("D", "pc3_acp"),
    "Missed": ("D", "is3_hna"),
    "Pending": ("H", "pc3_acp"),
    "Not applicable": ("B", "tc2_mdt"),
}


@pytest.fixture
def read_at_june(app: Flask, pathway: Any, make_user: Any, actor: Any) -> Iterator[dict[str, int]]:
    """The cohort, and the server's clock stopped at the moment it is read. The browser keeps
    the real clock: sessions are made to outlast the gap, or it would drop the cookie."""
    ids = drive(lambda role: actor(make_user(role)))
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=3650)
    try:
        with freeze_time(READ_AT):
            yield ids
    finally:
        app.config["PERMANENT_SESSION_LIFETIME"] = lifetime


def test_each_status_on_the_scorecard_of_the_patient_who_shows_it(
    page, read_at_june: dict[str, int], make_user
) -> None:
    for label, (letter, key) in SHOWN_BY.items():  # the doc agrees
        assert any(row[1] == key and row[2] == label for row in doc_scorecard(letter)), label
    make_user("cns", username="nurse")
    sign_in(page, "nurse", PASSWORD)
    for letter in sorted({letter for letter, _ in SHOWN_BY.values()}):
        page.goto(f"/patients/{read_at_june[letter]}")
        page.get_by_role("heading", name="Standards of care").wait_for()
        for label, (who, key) in SHOWN_BY.items():
            if who != letter:
                continue
            row = page.locator(f"table.app-scorecard tr[data-measure='{key}']").first
            assert row.locator("strong.nhsuk-tag").inner_text() == label, (letter, key)
        assert axe_violations(page) == [], PATIENTS[letter].given
        shoot(page, f"scorecard-{PATIENTS[letter].given.lower()}")
    # Fay's current episode (her second progression) comes first, her diagnosis last.
    page.goto(f"/patients/{read_at_june['F']}")
    captions = [c.strip() for c in page.locator("table.app-scorecard caption").all_text_contents()]
    assert [c.split(",")[0] for c in captions] == [
        "Disease progression",
        "Disease progression",
        "New secondary diagnosis",
    ]
    assert "Current episode" in captions[0]
    # The earlier ones fold away under a summary, and open on a click.
    earlier = page.locator("details.app-scorecard__earlier summary")
    assert earlier.all_inner_texts() == [
        "Earlier episode: Disease progression, 27 February 2026 (9 met, 1 not applicable)",
        "Earlier episode: New secondary diagnosis, 12 January 2026 (12 met, 1 not applicable)",
    ]
    earlier.first.click()
    assert page.locator("table.app-scorecard").nth(1).is_visible()
    assert axe_violations(page) == []
    shoot(page, "scorecard-fay")


def test_dashboard_charts_and_drill_down(page, read_at_june: dict[str, int], make_user) -> None:
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
    page.get_by_role("link", name="1 not achieved for Named CNS key worker allocated").click()
    page.get_by_role("heading", name="Named CNS key worker allocated").wait_for()
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert patient_name("D") in rows.nth(0).inner_text()
    assert "Met late" in rows.nth(0).inner_text()
    shoot(page, "reports-standards-not-achieved")
    assert axe_violations(page) == []
    page.get_by_role("link", name=patient_name("D")).click()
    page.get_by_role("heading", name="Standards of care").wait_for()
    page.goto("/reports/meetings")
    assert axe_violations(page) == []
    shoot(page, "reports-meetings")
    page.goto("/reports/workload")
    assert axe_violations(page) == []
    shoot(page, "reports-workload")
