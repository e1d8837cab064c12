"""The MDT as the whole team uses it, in the browser: the radiologist sees what they must
review and marks a patient ready, the CNS marks ready from the patient's page, the oncologist
prepares and presents the list one patient at a time, and the coordinator moves or adds a
meeting. axe on every page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mdt.clock import now as utcnow
from mdt.extensions import db
from mdt.models import MeetingModel
from mdt.services.meetings import add_listing, candidates, create_series, schedule_next

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, new_patient, ready_task
from ..scenarios import DIAGNOSIS
from .conftest import axe_violations, shoot, sign_in


def _the_list(make_user, actor) -> int:
    coordinator = actor(make_user("coordinator", username="coord"))
    make_user("oncologist", username="onc", discipline="oncology")
    make_user("cns", username="nurse", discipline="breast CNS")
    make_user("mdt_member", username="rad", discipline="radiology")
    for index, (family, imaging) in enumerate([("Hopper", True), ("Franklin", False)]):
        patient = new_patient(coordinator, index, given="Grace", family=family)
        complete_with_examples(
            coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
        complete_with_examples(coordinator, ready_task(patient.id, "Allocate a CNS key worker"))
        complete_with_examples(
            coordinator,
            ready_task(patient.id, "List for MDT review"),
            clinical_question=f"Next line of treatment for {family}?",
            urgency="fast_track" if imaging else "routine",
            imaging_for_review=imaging,
        )
    series = create_series(coordinator, "Secondary breast MDT", 2, "13:00", "Room 4")
    meeting = schedule_next(coordinator, series.id)
    for task in candidates(meeting).tasks:
        add_listing(coordinator, meeting.id, task.id, "discussion", None, None)
    meeting_id = meeting.id
    db.session.remove()
    return meeting_id


def _open_the_meeting(page) -> None:
    page.get_by_role("link", name="MDT meetings").click()
    page.get_by_role("heading", name="MDT meetings").wait_for()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Secondary breast MDT").first.click()
    page.get_by_role("heading", name="Patients on the list").wait_for()


def test_the_team_prepares_and_presents_the_list(page, pathway, make_user, actor) -> None:
    meeting_id = _the_list(make_user, actor)

    # The radiologist: what the referrals ask of radiology, and ready.
    sign_in(page, "rad", PASSWORD)
    _open_the_meeting(page)
    assert "For review by: radiology" in page.content()
    assert page.get_by_role("button", name="Lock and circulate the list").count() == 0
    assert axe_violations(page) == []
    page.get_by_role("link", name="Prepare: what you need to review").click()
    asked = page.locator("table").first
    asked.get_by_role("link", name="HOPPER, Grace").wait_for()
    assert "FRANKLIN" not in asked.inner_text()
    assert axe_violations(page) == []
    asked.get_by_role("button", name="Ready to present HOPPER, Grace").click()
    page.get_by_text("Marked as ready to present.").wait_for()
    shoot(page, "team-radiologist-prepares")
    page.goto("/sign-out")

    # The CNS, from the patient's page on the list.
    sign_in(page, "nurse", PASSWORD)
    _open_the_meeting(page)
    page.get_by_role("link", name="HOPPER, Grace").click()
    page.get_by_role("heading", name="Clinical question").wait_for()
    assert page.get_by_role("button", name="Confirm the outcome").count() == 0
    page.get_by_role("button", name="I have prepared this patient: ready to present").click()
    page.get_by_text("Marked as ready to present.").wait_for()
    assert page.locator(".nhsuk-tag", has_text="breast CNS").count() == 1
    assert axe_violations(page) == []
    page.goto("/sign-out")

    # The oncologist sees who is ready, and presents one patient after another.
    sign_in(page, "onc", PASSWORD)
    _open_the_meeting(page)
    first_row = page.locator("tbody tr").first
    assert "radiology" in first_row.inner_text() and "breast CNS" in first_row.inner_text()
    shoot(page, "team-list-ready")
    page.get_by_role("link", name="Present the list, one patient at a time").click()
    page.get_by_text("Patient 1 of 2 on the list").first.wait_for()
    assert "Fast track" in page.content()
    assert axe_violations(page) == []
    shoot(page, "team-present-first")
    page.get_by_role("link", name="Next patient").first.click()
    page.get_by_text("Patient 2 of 2 on the list").first.wait_for()
    assert page.get_by_role("link", name="Next patient").count() == 0
    page.get_by_role("link", name="Previous patient").first.click()
    page.get_by_text("Patient 1 of 2 on the list").first.wait_for()
    page.goto("/sign-out")

    # The coordinator moves the meeting and sets up an extra one.
    sign_in(page, "coord", PASSWORD)
    page.goto(f"/meetings/{meeting_id}")
    page.get_by_role("link", name="Move or cancel this meeting").click()
    page.get_by_role("heading", name="Move it to another time").wait_for()
    assert axe_violations(page) == []
    later = (utcnow() + timedelta(days=9)).date()
    page.get_by_label("New date").fill(f"{later.day}/{later.month}/{later.year}")
    page.get_by_role("button", name="Move the meeting").click()
    page.get_by_text("Say why the meeting is moving").first.wait_for()  # error, input kept
    assert page.get_by_label("New date").input_value() == f"{later.day}/{later.month}/{later.year}"
    page.get_by_label("Why is it moving?").fill("Clinic overran")
    page.get_by_role("button", name="Move the meeting").click()
    page.get_by_text("The meeting has moved; its list moved with it.").wait_for()
    db.session.expire_all()
    moved = db.session.scalars(select(MeetingModel)).one()
    assert moved.starts_at.date() in (later, later - timedelta(days=1))  # London vs UTC
    assert page.locator("tbody tr").count() == 2
    page.goto("/meetings/extra")
    page.get_by_role("heading", name="Set up an extra MDT meeting").wait_for()
    assert axe_violations(page) == []
    shoot(page, "team-extra-meeting")

    # And presents: the outcome form beside the patient, one after another.
    meeting = db.session.get(MeetingModel, meeting_id)
    meeting.starts_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    db.session.remove()
    page.goto(f"/meetings/{meeting_id}/present")
    page.get_by_role("button", name="Confirm the outcome and present the next patient").wait_for()
    assert axe_violations(page) == []
    shoot(page, "team-coordinator-presents")
