"""The MDT list shows what the pathway's decision table makes of the newest needs assessment:
each score tagged with the rule it meets, and every rule that matched. axe on the page."""

from __future__ import annotations

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import ListingModel
from mdt.services.meetings import add_listing, candidates, create_series, schedule_next

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, new_patient, ready_task
from ..scenarios import DIAGNOSIS
from .conftest import axe_violations, shoot, sign_in

DISTRESS = "Distress 4 or more: psychological and peer support"
FAMILY = "Asked for family support"


def test_the_list_shows_what_the_decision_table_found(page, pathway, make_user, actor) -> None:
    coordinator = actor(make_user("coordinator", username="coord"))
    nurse = actor(make_user("cns", username="nurse"))
    make_user("oncologist", username="onc", discipline="oncology")
    patient = new_patient(coordinator, 0, given="Grace", family="Hopper")
    complete_with_examples(
        coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    complete_with_examples(coordinator, ready_task(patient.id, "Allocate a CNS key worker"))
    complete_with_examples(
        nurse,
        ready_task(patient.id, "Holistic needs assessment"),
        offer="01",
        distress=5,
        physical=6,
        practical=3,
        emotional=2,
        family=1,
        spiritual=0,
        wants_family_support=True,
        uncontrolled_symptoms=False,
    )
    complete_with_examples(coordinator, ready_task(patient.id, "List for MDT review"))
    meeting = schedule_next(
        coordinator, create_series(coordinator, "Weekly MDT", 2, "13:00", "").id
    )
    for task in candidates(meeting).tasks:
        add_listing(coordinator, meeting.id, task.id, "discussion", None, None)
    listing_id = db.session.scalars(select(ListingModel.id)).one()
    db.session.remove()

    sign_in(page, "onc", PASSWORD)
    page.goto(f"/meetings/listings/{listing_id}")
    page.get_by_role("heading", name="Needs assessment").wait_for()
    flags = page.locator(".app-needs-flag")
    assert flags.all_inner_texts() == [DISTRESS]  # physical 6 decides nothing in this table
    found = page.locator(".app-needs-found li").all_inner_texts()
    assert found == [DISTRESS, FAMILY]
    assert axe_violations(page) == []
    shoot(page, "mdt-list-needs-decided")
