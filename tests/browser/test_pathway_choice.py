"""A coordinator registers a patient on the pathway they choose, starts them on a second one
from the record, and the record, the worklist and the scorecard keep each pathway apart."""

from __future__ import annotations

import re
from typing import Any

from mdt.services.actor import SYSTEM
from mdt.services.pathways import publish_files, read_pathway_directory

from ..conftest import PASSWORD, ROOT
from ..helpers import NHS_NUMBERS
from .conftest import axe_violations, shoot, sign_in

CLINIC = "lymphoedema-clinic"


def _publish_both() -> None:
    publish_files(
        SYSTEM, "secondary-breast-cancer", "Secondary breast cancer care pathway",
        *read_pathway_directory(ROOT / "bpmn"),
    )  # fmt: skip
    examples = ROOT / "bpmn" / "examples" / "lymphoedema"
    publish_files(SYSTEM, CLINIC, "Lymphoedema clinic", *read_pathway_directory(examples))


def test_register_on_a_chosen_pathway_then_start_another(
    page: Any, live_server: str, make_user: Any
) -> None:
    _publish_both()
    make_user("coordinator", username="chooser")
    sign_in(page, "chooser", PASSWORD)

    page.goto(f"{live_server}/patients/new")
    choice = page.get_by_role("group", name="Pathway to start")
    assert choice.get_by_label("Secondary breast cancer care pathway").is_checked()
    assert axe_violations(page) == []
    page.get_by_label("NHS number").fill(NHS_NUMBERS[0])
    page.get_by_label("First name").fill("Iris")
    page.get_by_label("Last name").fill("Clinic")
    born = page.get_by_role("group", name="Date of birth")
    born.get_by_label("Day").fill("4")
    born.get_by_label("Month").fill("5")
    born.get_by_label("Year").fill("1958")
    choice.get_by_label("Lymphoedema clinic").check()
    page.get_by_role("button", name="Register and start the pathway").click()
    page.get_by_text("is registered and their pathway has started").wait_for()
    assert page.get_by_text("Register the lymphoedema referral").first.is_visible()
    assert page.locator(".app-pathway-section").count() == 0  # one pathway: no sections
    record_url = page.url

    page.get_by_role("button", name="Start another pathway").click()
    assert axe_violations(page) == []
    page.get_by_label("Secondary breast cancer care pathway").check()
    page.get_by_role("button", name="Start the pathway").click()
    page.get_by_text("has started the Secondary breast cancer care pathway").wait_for()
    shoot(page, "pathway-choice-record-two-pathways")
    sections = page.locator(".app-pathway-section")
    assert [sections.nth(i).get_attribute("data-pathway") for i in range(2)] == [
        "secondary-breast-cancer",
        CLINIC,
    ]
    main, clinic = sections.nth(0), sections.nth(1)
    assert main.get_by_role("heading", name="Secondary breast cancer care pathway").is_visible()
    assert main.get_by_text("Register secondary diagnosis").first.is_visible()
    assert main.get_by_text("Register the lymphoedema referral").count() == 0
    assert clinic.get_by_text("Register the lymphoedema referral").first.is_visible()
    assert axe_violations(page) == []

    # Nothing left to start: the page says so, and a second clinic is refused.
    page.goto(f"{record_url}/pathways/new")
    assert page.get_by_text("is already on every published pathway").is_visible()

    page.goto(f"{live_server}/tasks")
    page.get_by_label("Pathway", exact=True).select_option(CLINIC)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table").first.inner_text()
    assert "Register the lymphoedema referral" in rows
    assert "Register secondary diagnosis" not in rows
    assert re.search(r"pathway=lymphoedema-clinic", page.url)
