"""A CNS signs in, finds a task and completes it; every page is checked with axe-core."""

from __future__ import annotations

from mdt.extensions import db

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, new_patient, ready_task
from .conftest import axe_violations, fill_date, shoot, sign_in


def test_cns_completes_first_contact(page, pathway, make_user, actor) -> None:
    coordinator = make_user("coordinator", username="coord")
    make_user("cns", username="nurse")
    patient = new_patient(actor(coordinator), given="Ada", family="Lovelace")
    complete_with_examples(
        actor(coordinator), ready_task(patient.id, "Register secondary diagnosis")
    )
    complete_with_examples(actor(coordinator), ready_task(patient.id, "Allocate a CNS key worker"))
    db.session.remove()

    page.goto("/")
    assert "/sign-in" in page.url
    shoot(page, "01-sign-in")
    assert axe_violations(page) == []
    sign_in(page, "nurse", PASSWORD)

    page.get_by_role("heading", name="My tasks").wait_for()
    shoot(page, "02-my-tasks")
    assert axe_violations(page) == []
    page.get_by_role("link", name="First contact with key worker").click()

    page.get_by_role("heading", name="First contact with key worker").wait_for()
    assert "LOVELACE, Ada" in page.content()
    shoot(page, "03-task-form")
    assert axe_violations(page) == []

    page.get_by_role("button", name="Complete task").click()  # nothing filled in
    page.get_by_role("heading", name="There is a problem").wait_for()
    shoot(page, "04-task-errors")
    assert axe_violations(page) == []
    page.get_by_role("link", name="Enter date of first contact").click()
    assert page.evaluate("document.activeElement.id") == "field-contact_date-day"

    fill_date(page, "Date of first contact")
    page.get_by_label("Telephone").check()
    page.get_by_label("What secondary breast cancer means").check()
    page.get_by_role("group", name="Has the patient been told how to reach you").get_by_label(
        "Yes"
    ).check()
    page.get_by_role("group", name="information on local palliative and supportive").get_by_label(
        "Yes"
    ).check()
    page.get_by_role("button", name="Complete task").click()

    page.get_by_text("completed for LOVELACE, Ada").wait_for()
    shoot(page, "05-after-complete")
    assert "Holistic needs assessment" in page.content()

    page.get_by_role("link", name="LOVELACE, Ada").first.click()
    page.get_by_role("heading", name="Timeline").wait_for()
    shoot(page, "06-patient-record")
    assert axe_violations(page) == []
    assert "First contact with key worker" in page.content()
