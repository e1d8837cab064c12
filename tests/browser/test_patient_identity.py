"""Registering a patient with every detail, as a coordinator does it in the browser: the form
with all its problems at once, then the record's banner, then finding her again by her
names in the other order. Every page checked with axe."""

from __future__ import annotations

from mdt.extensions import db

from ..conftest import PASSWORD
from .conftest import axe_violations, shoot, sign_in


def test_register_with_every_detail_and_find_her_again(page, make_user, pathway) -> None:
    make_user("coordinator", username="coord")
    db.session.commit()
    sign_in(page, "coord", PASSWORD)
    page.goto("/patients/new")
    assert axe_violations(page) == []
    page.get_by_label("NHS number").fill("943 476 5918")  # a wrong check digit
    page.get_by_label("First name").fill("Siobhán")
    page.get_by_label("Last name").fill("O'Brien")
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill("1961")
    page.get_by_label("Postcode (optional)").fill("LS6 XX1")
    page.get_by_role("button", name="Register").click()
    summary = page.locator(".nhsuk-error-summary")
    summary.wait_for()
    assert summary.locator("li").all_inner_texts() == [
        "Enter a valid NHS number: the check digit does not match",
        "Date of birth must be a real date",
        "Enter the patient's address as well as the postcode",
        "Enter a real UK postcode, like LS1 4AP",
    ]
    assert axe_violations(page) == []
    shoot(page, "registration-every-problem")

    page.get_by_label("NHS number").fill("９４３ ４７６ ５９１９")  # fullwidth digits
    page.get_by_label("Hospital number (MRN) (optional)").fill("rxh765432")
    page.get_by_label("Day").fill("28")
    page.get_by_label("Female").check()
    page.get_by_label("Address").first.fill("14 Ashgrove Terrace\nLeeds")
    page.get_by_label("Postcode (optional)").fill("ls6 3bp")
    page.get_by_label("Responsible consultant (optional)").fill("Dr Amara Okafor")
    page.get_by_label("ODS code (optional)").fill("b86001")
    page.get_by_label("Practice name (optional)").fill("Riverside Surgery")
    page.get_by_role("button", name="Register").click()
    banner = page.locator(".app-patient-banner")
    banner.wait_for()
    text = banner.inner_text()
    for shown in ("O'BRIEN, Siobhán", "943 476 5919", "RXH765432", "Female",
                  "Dr Amara Okafor", "Riverside Surgery (B86001)"):  # fmt: skip
        assert shown in text, shown
    assert axe_violations(page) == []
    shoot(page, "registration-banner")

    page.goto("/patients?q=obrien")  # typed without the apostrophe
    page.get_by_role("link", name="O'BRIEN, Siobhán").wait_for()
    page.goto("/patients")
    page.get_by_label("Name, NHS number, date of birth or hospital number").fill("brien siob")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="O'BRIEN, Siobhán").wait_for()
    assert axe_violations(page) == []
    shoot(page, "search-names-any-order")
