"""A patient's choices recorded from the screens, as they are given: a needs assessment and
advance care planning declined or undecided with a date to offer again, an objection to the
GP being sent the MDT outcome, family support that could not be offered (with its reason).
Nothing is forced into a false record, nothing else waits, and the scorecard says what the
patient chose. Each page checked with axe-core."""

from __future__ import annotations

from sqlalchemy import func, select

from mdt.extensions import db
from mdt.models import HumanTaskModel, TaskStatus, TimerModel

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, ready_task, ready_tasks
from .conftest import axe_violations, fill_date, shoot, sign_in
from .test_clinician_journeys import _patient_at_assessment


def _open(page, patient_id: int, name: str) -> None:
    page.goto(f"/patients/{patient_id}")
    page.get_by_role("link", name=name).first.click()
    page.get_by_role("heading", name=name, level=1).wait_for()


def test_declined_undecided_and_objects_from_the_screens(page, pathway, make_user, actor) -> None:
    patient_id, coordinator, _ = _patient_at_assessment(make_user, actor)
    sign_in(page, "nurse", PASSWORD)

    _open(page, patient_id, "Holistic needs assessment")
    page.get_by_label("Offered and declined").check()
    fill_date(page, "Date of assessment (or of the offer)")
    fill_date(page, "Offer again on", days_from_today=14)
    page.get_by_role("group", name="information on local palliative and supportive").get_by_label(
        "Yes"
    ).check()
    assert axe_violations(page) == []
    shoot(page, "choice-hna-declined")
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("completed for SEACOLE, Mary").wait_for()

    _open(page, patient_id, "Advance care planning conversation")
    page.get_by_label("Offered, undecided").check()
    fill_date(page, "Date of the conversation (or the offer)")
    fill_date(page, "Offer again on", days_from_today=28)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("completed for SEACOLE, Mary").wait_for()

    # Family support could not be offered (she was too unwell that day): the reason is
    # kept, and the offer comes back on the date given.
    _open(page, patient_id, "Offer family support")
    page.get_by_label("Could not be offered or completed (give the reason)").check()
    fill_date(page, "Date offered")
    page.get_by_label("Why could it not be offered or completed?").fill(
        "Too unwell to discuss it today"
    )
    fill_date(page, "Offer again on", days_from_today=7)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("completed for SEACOLE, Mary").wait_for()
    family = db.session.scalar(
        select(HumanTaskModel).where(
            HumanTaskModel.patient_id == patient_id,
            HumanTaskModel.name == "Offer family support",
            HumanTaskModel.status == TaskStatus.COMPLETED,
        )
    )
    assert family is not None and family.data["outcome"] == "unable"
    assert family.data["unable_reason"] == "Too unwell to discuss it today"

    # The MDT discussed her (set up directly); the coordinator records her objection.
    complete_with_examples(coordinator, ready_task(patient_id, "List for MDT review"))
    complete_with_examples(coordinator, ready_task(patient_id, "Record MDT outcome"))
    db.session.remove()
    page.goto("/sign-out")
    sign_in(page, "coord", PASSWORD)
    _open(page, patient_id, "Send the MDT outcome to the GP")
    page.get_by_label("No: the patient objects to sharing this with the GP").check()
    fill_date(page, "Date the patient's objection was recorded")
    page.get_by_label("What was shared with the GP instead, if anything").fill(
        "That she is under the team's care; no clinical detail"
    )
    page.get_by_role("group", name="Has the patient been told the outcome?").get_by_label(
        "No"
    ).check()
    assert axe_violations(page) == []
    shoot(page, "choice-gp-objects")
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("completed for SEACOLE, Mary").wait_for()

    # Nothing waits on her choices: treatment planning is ready; the offers come back on
    # the dates agreed (their timers wait); no letter was recorded as sent.
    waiting = {t.name for t in ready_tasks(patient_id)}
    assert "Treatment planning consultation" in waiting
    assert "Holistic needs assessment" not in waiting
    assert "Advance care planning conversation" not in waiting
    timers = db.session.scalar(
        select(func.count()).select_from(TimerModel).where(TimerModel.instance_id.is_not(None))
    )
    assert timers and timers >= 2
    letter = db.session.scalar(
        select(HumanTaskModel).where(
            HumanTaskModel.patient_id == patient_id,
            HumanTaskModel.bpmn_id == "mdt_gp_letter",
            HumanTaskModel.status == TaskStatus.COMPLETED,
        )
    )
    assert letter is not None and "sent_on" not in letter.data

    page.goto(f"/patients/{patient_id}")
    page.get_by_role("heading", name="Standards of care").wait_for()
    shown = {
        row.get_attribute("data-measure"): row.locator("strong.nhsuk-tag").inner_text()
        for row in page.locator("table.app-scorecard tbody tr").all()
    }
    assert shown["is3_hna"] == "Declined by the patient"
    assert shown["pc3_acp"] == "Patient undecided"
    assert axe_violations(page) == []
    shoot(page, "choice-scorecard")
