"""The coordinator's week in the browser: meeting, list, late addition, circulation, quoracy,
an outcome confirmed, the oncologist's next task, the GP letter PDF."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from mdt.clock import now as utcnow
from mdt.clock import today as london_today
from mdt.extensions import db
from mdt.models import MeetingModel

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, new_patient, ready_task
from ..scenarios import DIAGNOSIS
from .conftest import axe_violations, shoot, sign_in

CORE = ["oncology", "palliative care", "breast CNS", "radiology", "pathology", "surgery"]


def _two_patients_waiting(make_user, actor) -> None:
    coordinator = actor(make_user("coordinator", username="coord"))
    nurse = actor(make_user("cns"))
    make_user("oncologist", username="onc")
    for index, family in enumerate(["Hopper", "Franklin"]):
        patient = new_patient(coordinator, index, given="Grace", family=family)
        complete_with_examples(
            coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
        complete_with_examples(
            coordinator,
            ready_task(patient.id, "Allocate a CNS key worker"),
            key_worker_name="Alex Patel",
            key_worker_phone="0113 496 0123",
        )
        complete_with_examples(nurse, ready_task(patient.id, "First contact with key worker"))
        complete_with_examples(nurse, ready_task(patient.id, "Holistic needs assessment"))
        complete_with_examples(
            coordinator,
            ready_task(patient.id, "List for MDT review"),
            clinical_question=f"First-line treatment for {family}?",
        )
    db.session.remove()


def _set_cut_off(hours_from_now: float) -> None:
    meeting = db.session.scalars(select(MeetingModel)).one()
    meeting.cut_off_at = utcnow() + timedelta(hours=hours_from_now)
    db.session.commit()
    db.session.remove()


def _start_meeting() -> None:
    """The meeting's time comes: attendance and outcomes can be recorded from its start."""
    meeting = db.session.scalars(select(MeetingModel)).one()
    meeting.starts_at = utcnow() - timedelta(minutes=5)
    meeting.cut_off_at = meeting.starts_at - timedelta(hours=24)
    db.session.commit()
    db.session.remove()


def test_the_coordinators_week(page, pathway, make_user, actor) -> None:
    _two_patients_waiting(make_user, actor)
    sign_in(page, "coord", PASSWORD)
    page.get_by_role("link", name="MDT meetings").click()
    page.get_by_role("heading", name="MDT meetings").wait_for()
    assert axe_violations(page) == []
    page.get_by_label("Start time").fill("13:00")
    page.get_by_role("button", name="Set up and open the next meeting").click()
    page.get_by_role("heading", name="Waiting for MDT review").wait_for()
    _set_cut_off(24)  # the list is open: additions are on time
    page.reload()
    shoot(page, "meeting-list-building")
    assert axe_violations(page) == []

    page.get_by_role("button", name="Add HOPPER, Grace").click()
    page.get_by_text("Nobody else is waiting", exact=False).or_(
        page.get_by_role("button", name="Add FRANKLIN, Grace")
    ).first.wait_for()
    _set_cut_off(-2)  # the cut-off has passed
    page.reload()
    page.get_by_role("button", name="Add FRANKLIN, Grace").click()  # no reason given
    page.get_by_role("heading", name="There is a problem").wait_for()
    page.get_by_label("Why it cannot wait").fill("Suspected cord compression")
    page.get_by_role("button", name="Add FRANKLIN, Grace").click()
    page.get_by_text("Late addition", exact=True).wait_for()
    assert "Suspected cord compression" in page.content()

    page.get_by_role("button", name="Lock and circulate the list").click()
    page.get_by_text("The list is locked and circulated.").wait_for()
    _start_meeting()
    page.reload()
    for discipline in CORE:
        page.get_by_label("Name").fill(f"Dr {discipline.title()}")
        page.get_by_label("Discipline").select_option(discipline)
        page.get_by_role("button", name="Record attendance").click()
        page.get_by_text(f"Dr {discipline.title()}, {discipline}").wait_for()
    assert "Quorate" in page.content()
    shoot(page, "meeting-quorate")
    assert axe_violations(page) == []

    page.get_by_role("link", name="HOPPER, Grace").click()
    page.get_by_role("heading", name="Clinical question").wait_for()
    shoot(page, "meeting-presentation")
    assert axe_violations(page) == []
    outcome = page.locator("form").filter(
        has=page.get_by_role("button", name="Confirm the outcome")
    )
    # The meeting dates its outcomes: the date is shown, never typed.
    assert outcome.get_by_role("group", name="Meeting date").count() == 0
    assert "the meeting's: it is recorded with the outcome" in page.content()
    outcome.get_by_label("Discussed in full").check()
    outcome.get_by_label("Recommendation and options").fill("CDK4/6 inhibitor with letrozole")
    outcome.get_by_label("Disease control and life extension").check()
    outcome.get_by_label("Planned treatment type").select_option("cdk46")
    outcome.get_by_label("Yes – not eligible").check()
    outcome.get_by_role("group", name="Performance status at the meeting").get_by_label(
        "1 – Restricted"
    ).check()
    outcome.get_by_role("group", name="Does the MDT recommend referral").get_by_label("No").check()
    outcome.get_by_label("Who will inform the patient").fill("Dr Okafor")
    outcome.get_by_label("Outcome checked by (named clinician)").fill("Dr Okafor")
    page.get_by_role("button", name="Confirm the outcome").click()
    page.get_by_text("Outcome confirmed for HOPPER, Grace").wait_for()

    page.get_by_role("link", name="HOPPER, Grace").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the GP letter (PDF)").click()
    pdf = PdfReader(io.BytesIO(Path(download.value.path()).read_bytes()))
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "MDT outcome: Grace Hopper" in text and "CDK4/6 inhibitor with letrozole" in text
    letter = page.locator("form").filter(
        has=page.get_by_role("button", name="Record the letter as sent")
    )
    letter.get_by_label("Yes, the GP was sent a letter").check()  # reveals how and when
    sent = letter.get_by_role("group", name="Date the letter was sent")
    today = london_today()
    sent.get_by_label("Day").fill(str(today.day))
    sent.get_by_label("Month").fill(str(today.month))
    sent.get_by_label("Year").fill(str(today.year))
    letter.get_by_label("NHSmail").check()
    letter.get_by_role("group", name="Has the patient been told").get_by_label(
        "No", exact=True
    ).check()
    page.get_by_role("button", name="Record the letter as sent").click()
    page.get_by_text("GP letter recorded as sent.").wait_for()
    shoot(page, "meeting-gp-letter")
    assert axe_violations(page) == []

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "onc", PASSWORD)
    page.get_by_role("heading", name="My tasks").wait_for()
    assert page.get_by_role("link", name="Treatment planning consultation").count() == 1
    assert "HOPPER, Grace" in page.content()
