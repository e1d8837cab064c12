"""Clinicians' journeys in the browser, each page checked with axe-core."""

from __future__ import annotations

from mdt.extensions import db

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, new_patient, ready_task
from ..scenarios import DIAGNOSIS
from .conftest import axe_violations, fill_date, shoot, sign_in


def _patient_at_assessment(make_user, actor):
    coordinator = make_user("coordinator", username="coord")
    nurse = make_user("cns", username="nurse")
    make_user("oncologist", username="onc")
    patient = new_patient(actor(coordinator), given="Mary", family="Seacole")
    complete_with_examples(
        actor(coordinator), ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    complete_with_examples(
        actor(coordinator),
        ready_task(patient.id, "Allocate a CNS key worker"),
        key_worker_name="Nurse",
        key_worker_phone="0113 496 0000",
    )
    complete_with_examples(actor(nurse), ready_task(patient.id, "First contact with key worker"))
    patient_id, actors = patient.id, (actor(coordinator), actor(nurse))
    db.session.remove()
    return patient_id, *actors


def test_cns_needs_assessment_with_an_error_then_timeline_and_diagram(
    page, pathway, make_user, actor
) -> None:
    patient_id, _, _ = _patient_at_assessment(make_user, actor)
    sign_in(page, "nurse", PASSWORD)
    page.get_by_role("link", name="Holistic needs assessment").click()
    page.get_by_role("heading", name="Holistic needs assessment", level=1).wait_for()

    page.get_by_label("Offered and accepted").check()  # reveals the scores under it
    page.get_by_label("Physical concerns").fill("6")
    page.get_by_label("Distress thermometer").fill("12")  # out of range
    page.get_by_role("button", name="Complete task").click()

    page.get_by_role("heading", name="There is a problem").wait_for()
    shoot(page, "cns-hna-errors")
    assert axe_violations(page) == []
    assert page.get_by_label("Physical concerns").input_value() == "6"  # input kept
    assert page.get_by_label("Offered and accepted").is_checked()
    summary = page.locator(".nhsuk-error-summary").inner_text()
    assert "Distress thermometer must be 10 or less" in summary
    assert "Enter date of assessment (or of the offer)" in summary
    assert "Enter emotional concerns" in summary  # every problem at once

    fill_date(page, "Date of assessment (or of the offer)")
    for label, value in [
        ("Practical concerns", "2"),
        ("Emotional concerns", "7"),
        ("Family and relationship concerns", "1"),
        ("Spiritual or religious concerns", "0"),
        ("Information needs", "3"),
        ("Distress thermometer", "8"),
    ]:
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Care and support plan: actions agreed").fill(
        "Counselling; review in 2 weeks"
    )
    for question, answer in [
        ("Are any symptoms uncontrolled?", "No"),
        ("Would the patient or family like support", "No"),
        ("Has the care and support plan been agreed", "Yes"),
        ("information on local palliative and supportive", "Yes"),
    ]:
        page.get_by_role("group", name=question).get_by_label(answer).check()
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("completed for SEACOLE, Mary").wait_for()
    assert page.get_by_role("link", name="Refer for psychological and peer support").count() == 1

    page.goto(f"/patients/{patient_id}")
    page.locator("#diagram[data-import-status='ok']").wait_for(state="attached")
    shoot(page, "cns-patient-record")
    assert axe_violations(page) == []
    assert page.locator('[data-element-id="cns_first_contact"].app-completed').count() == 1
    assert page.locator('[data-element-id="diagnosis_hna"].app-current').count() == 1
    timeline = page.locator(".app-timeline").inner_text()
    assert "Holistic needs assessment" in timeline and "First contact with key worker" in timeline


def test_oncologist_completes_treatment_planning(page, pathway, make_user, actor) -> None:
    patient_id, coordinator, nurse = _patient_at_assessment(make_user, actor)
    complete_with_examples(nurse, ready_task(patient_id, "Holistic needs assessment"))
    complete_with_examples(coordinator, ready_task(patient_id, "List for MDT review"))
    complete_with_examples(coordinator, ready_task(patient_id, "Record MDT outcome"))
    complete_with_examples(coordinator, ready_task(patient_id, "Send the MDT outcome to the GP"))
    db.session.remove()

    sign_in(page, "onc", PASSWORD)
    page.get_by_role("link", name="Treatment planning consultation").click()
    page.get_by_role("heading", name="Treatment planning consultation", level=1).wait_for()
    shoot(page, "oncologist-treatment-planning")
    assert axe_violations(page) == []
    fill_date(page, "Date of consultation")
    for question in [
        "Were the aims of treatment discussed?",
        "Were the expectations and goals of treatment discussed?",
        "Was the effect on quality of life and wellbeing discussed?",
    ]:
        page.get_by_role("group", name=question).get_by_label("Yes").check()
    page.get_by_label("Considered, none suitable").check()
    page.get_by_label("Line of treatment").fill("1")
    page.get_by_label("Yes, I would be surprised").check()
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("completed for SEACOLE, Mary").wait_for()
    shoot(page, "oncologist-after")
    assert axe_violations(page) == []


def test_progression_puts_new_work_in_the_right_worklists(page, pathway, make_user, actor) -> None:
    patient_id, _, _ = _patient_at_assessment(make_user, actor)
    sign_in(page, "nurse", PASSWORD)
    page.goto(f"/patients/{patient_id}")
    page.get_by_role("button", name="Record an event").click()
    page.get_by_role("heading", name="What happened?").wait_for()
    shoot(page, "event-choice")
    assert axe_violations(page) == []
    page.get_by_label("Disease progression").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Disease progression", level=1).wait_for()
    fill_date(page, "Date of the scan or biopsy that showed progression", -2)
    page.get_by_label("Imaging").check()
    page.get_by_label("Brain (C79.3)").check()
    page.get_by_role("group", name="Were the receptors tested again?").get_by_label(
        "No", exact=True
    ).check()
    page.get_by_label("1 – Restricted in strenuous activity").check()
    page.get_by_role("group", name="fast track").get_by_label("Yes").check()
    page.get_by_label("Clinical question for the MDT").fill("Brain metastases: radiotherapy?")
    page.get_by_role("group", name="Is imaging to be reviewed").get_by_label("Yes").check()
    shoot(page, "event-form")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Record: disease progression").click()
    page.get_by_text("Disease progression recorded").wait_for()
    page.goto("/tasks")
    assert page.get_by_role("link", name="Holistic needs assessment").count() == 2
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "coord", PASSWORD)
    page.get_by_role("heading", name="My tasks").wait_for()
    shoot(page, "coordinator-worklist-after-progression")
    assert axe_violations(page) == []
    assert page.get_by_role("link", name="List for MDT review").count() == 1  # diagnosis one
    assert page.get_by_role("link", name="Record MDT outcome").count() == 1  # listed at once
    page.goto(f"/patients/{patient_id}")
    assert "Disease progression" in page.locator(".app-timeline").inner_text()
