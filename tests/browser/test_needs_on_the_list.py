"""The MDT list shows what the pathway's concerns table makes of the newest needs assessment:
every score of 4 or more tagged with the concern rule it meets (physical and spiritual too,
which decide no referral), 3 or less untagged, and every rule that matched. axe on the page."""

from __future__ import annotations

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import ListingModel
from mdt.services.meetings import add_listing, candidates, create_series, schedule_next

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, new_patient, ready_task
from ..scenarios import DIAGNOSIS
from .conftest import axe_violations, shoot, sign_in

DISTRESS = "Distress 4 or more"
PHYSICAL = "Physical concern 4 or more"
SPIRITUAL = "Spiritual concern 4 or more"


def test_the_list_flags_every_significant_concern(page, pathway, make_user, actor) -> None:
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
        spiritual=8,
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
    assert flags.all_inner_texts() == [DISTRESS, PHYSICAL, SPIRITUAL]
    rows = page.locator(".nhsuk-summary-list__row", has=page.locator("dt", has_text="Practical"))
    assert rows.locator(".app-needs-flag").count() == 0  # 3 is not a significant concern
    found = page.locator(".app-needs-found li").all_inner_texts()
    assert found == [DISTRESS, PHYSICAL, SPIRITUAL]
    assert axe_violations(page) == []
    shoot(page, "mdt-list-needs-decided")
