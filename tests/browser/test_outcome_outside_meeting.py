"""An MDT outcome recorded away from a meeting, in the browser: the page says outcomes are
recorded at a meeting, refuses the outcome without the declaration (keeping what was typed),
and takes it as decided outside a meeting with the reason and two clinicians; axe on each."""

from __future__ import annotations

from mdt.extensions import db

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, new_patient, ready_task
from ..scenarios import DIAGNOSIS
from .conftest import axe_violations, fill_date, shoot, sign_in

REASON = "Urgent decision between meetings: new cord compression"


def test_an_outcome_decided_outside_a_meeting(page, pathway, make_user, actor) -> None:
    coordinator = actor(make_user("coordinator", username="coord"))
    patient = new_patient(coordinator, given="Ada", family="Lovelace")
    complete_with_examples(
        coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    complete_with_examples(coordinator, ready_task(patient.id, "List for MDT review"))
    task_id = ready_task(patient.id, "Record MDT outcome").id
    db.session.remove()

    sign_in(page, "coord", PASSWORD)
    page.goto(f"/tasks/{task_id}")
    page.get_by_role("heading", name="Record MDT outcome", level=1).wait_for()
    inset = page.locator(".app-outside-meeting").inner_text()
    assert "MDT outcomes are recorded at a meeting" in inset
    assert page.get_by_role("link", name="add the patient to the next meeting's list").count() == 1
    shoot(page, "outcome-outside-meeting")
    assert axe_violations(page) == []

    fill_date(page, "Meeting date")
    page.get_by_label("Discussed in full").check()
    page.get_by_label("Recommendation and options").fill("Palliative radiotherapy to the spine")
    page.get_by_label("Symptom control").check()
    page.get_by_label("Yes – not eligible").check()
    page.get_by_label("1 – Restricted in strenuous activity, can do light work").check()
    page.get_by_role("group", name="Does the MDT recommend referral").get_by_label("No").check()
    page.get_by_label("Who will inform the patient").fill("Dr Okafor")
    page.get_by_label("Outcome checked by (named clinician)").fill("Dr Okafor")
    page.get_by_role("button", name="Complete task").click()

    page.get_by_role("heading", name="There is a problem").wait_for()
    shoot(page, "outcome-outside-meeting-refused")
    assert axe_violations(page) == []
    assert (
        "MDT outcomes are recorded at a meeting"
        in page.locator(".nhsuk-error-summary").inner_text()
    )
    recommendation = page.get_by_label("Recommendation and options").input_value()
    assert recommendation == "Palliative radiotherapy to the spine"  # kept

    page.get_by_label("It was decided outside an MDT meeting").check()
    page.get_by_label("Why was it decided outside a meeting?").fill(REASON)
    for number, (name, discipline) in enumerate(
        [("Dr Amara Okafor", "oncology"), ("Sam Reid", "breast CNS")], start=1
    ):
        person = page.get_by_role("group", name=f"Clinician {number}", exact=True)
        person.get_by_label("Name").fill(name)
        person.get_by_label("Discipline").fill(discipline)
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("completed for LOVELACE, Ada").wait_for()

    page.goto(f"/tasks/{task_id}")
    shown = page.locator(".app-outcome-setting").inner_text()
    assert "Outside a meeting" in shown and REASON in shown and "Sam Reid (breast CNS)" in shown
    shoot(page, "outcome-outside-meeting-done")
    assert axe_violations(page) == []
