"""A task form in the browser: every problem of a submission in one error summary, and the
"Today" button of a date input (a script file: the policy forbids inline scripts). Checked
with axe-core."""

from __future__ import annotations

from mdt.extensions import db
from mdt.models import HumanTaskModel, TaskStatus

from ..conftest import PASSWORD
from ..helpers import new_patient, ready_task, start_on
from ..test_form_errors import _publish
from .conftest import axe_violations, sign_in


def test_all_problems_at_once_then_today_fills_the_date(page, make_user, actor) -> None:
    _publish()
    nurse = make_user("cns", username="nurse")
    make_user("oncologist", username="doctor")
    patient = new_patient(actor(nurse), start=False)
    start_on(actor(nurse), patient, "wound-care")
    task = ready_task(patient.id, "Assess the wound")
    sign_in(page, "nurse", PASSWORD)
    page.goto(f"/tasks/{task.id}")

    seen = page.get_by_role("group", name="Date seen")
    seen.get_by_label("Day", exact=True).fill("31")
    seen.get_by_label("Month", exact=True).fill("2")
    seen.get_by_label("Year", exact=True).fill("2026")
    page.get_by_label("Carer's NHS number").fill("943 476 5918")
    page.get_by_role("button", name="Complete task").click()
    summary = page.locator(".nhsuk-error-summary__list li")
    summary.first.wait_for()
    assert summary.count() == 5
    assert axe_violations(page) == []

    seen = page.get_by_role("group", name="Date seen")
    for part in ("Day", "Month", "Year"):
        seen.get_by_label(part, exact=True).fill("")
    seen.get_by_role("button", name="Today").click()
    assert 1 <= int(seen.get_by_label("Day", exact=True).input_value()) <= 31
    assert 1 <= int(seen.get_by_label("Month", exact=True).input_value()) <= 12
    assert seen.get_by_label("Year", exact=True).input_value().isdigit()
    page.get_by_label("Wound size (cm)").fill("4")
    page.get_by_role("group", name="Signs of infection?").get_by_label("No").check()
    page.get_by_label("Key worker").select_option("Nurse")
    page.get_by_label("Carer's NHS number").fill("943 476 5919")
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("completed for").wait_for()
    db.session.expire_all()
    done = db.session.get(HumanTaskModel, task.id)
    assert done.status == TaskStatus.COMPLETED
    assert done.data["carer_nhs_number"] == "9434765919" and done.data["seen_by"] == "Nurse"
