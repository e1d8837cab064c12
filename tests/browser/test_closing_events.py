"""A death recorded from the screens: the page after the form says what will happen and
nothing changes until it is confirmed; a service manager marks it entered in error and the
patient's tasks are back. Each page checked with axe-core."""

from __future__ import annotations

from mdt.extensions import db
from mdt.models import PatientModel

from ..conftest import PASSWORD
from ..helpers import ready_task, ready_tasks
from .conftest import axe_violations, fill_date, shoot, sign_in
from .test_clinician_journeys import _patient_at_assessment


def test_death_confirmed_then_entered_in_error(page, pathway, make_user, actor) -> None:
    patient_id, _, _ = _patient_at_assessment(make_user, actor)
    make_user("manager", username="boss")
    open_before = sorted(t.name for t in ready_tasks(patient_id))
    sign_in(page, "nurse", PASSWORD)
    page.goto(f"/patients/{patient_id}/events/new?event=death")
    fill_date(page, "Date of death")
    page.get_by_label("Hospice").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Check what recording death will do").wait_for()
    assert axe_violations(page) == []
    shoot(page, "closing-confirm")
    cancelled = page.locator(".app-will-cancel").inner_text()
    assert "Holistic needs assessment" in cancelled
    db.session.expire_all()
    assert db.session.get(PatientModel, patient_id).date_of_death is None  # not yet
    page.get_by_role("button", name="Confirm: death").click()
    page.get_by_text("Death recorded for").wait_for()
    db.session.expire_all()
    assert db.session.get(PatientModel, patient_id).date_of_death is not None

    page.goto("/sign-in")
    sign_in(page, "boss", PASSWORD)
    page.goto(f"/patients/{patient_id}")
    page.get_by_role("link", name="Entered in error?").click()
    page.get_by_role("heading", name="Deaths, discharges and transfers").wait_for()
    assert axe_violations(page) == []
    shoot(page, "closing-entered-in-error")
    page.get_by_label("Why was it entered in error?").fill("Recorded on the wrong patient")
    page.get_by_role("button", name="Mark entered in error").click()
    page.get_by_text("is marked entered in error").wait_for()
    db.session.expire_all()
    assert db.session.get(PatientModel, patient_id).date_of_death is None
    assert sorted(t.name for t in ready_tasks(patient_id)) == open_before
    assert ready_task(patient_id, "Holistic needs assessment")
