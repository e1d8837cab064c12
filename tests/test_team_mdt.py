"""The MDT as the whole team's workspace: every core member sees the list and prepares, a
meeting can move or be cancelled without losing its list, and the list is presented one
patient after another."""

# The week's fixtures come from test_meetings; using them as arguments "redefines" them.
# ruff: noqa: F811

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from mdt.extensions import db
from mdt.models import AuditEventModel, ListingStatus, MeetingModel
from mdt.services.errors import ConflictError, InvalidInputError
from mdt.services.meetings import (
    active_listings,
    add_listing,
    attendees,
    cancel_meeting,
    candidates,
    close_meeting,
    confirm_outcome,
    create_meeting,
    mark_ready,
    missing_disciplines,
    move_meeting,
    record_attendance,
    remove_attendee,
)

from .helpers import complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS
from .test_meetings import CORE, LONDON, OUTCOME, _present, monday, week  # noqa: F401

pytestmark = pytest.mark.clock


def _meeting(meeting_id: int) -> MeetingModel:
    return db.session.get(MeetingModel, meeting_id)


def _list_everyone(coordinator: Any, meeting_id: int) -> list[Any]:
    meeting = _meeting(meeting_id)
    return [
        add_listing(coordinator, meeting_id, task.id, "discussion", None, None)
        for task in candidates(meeting).tasks
    ]


def test_a_meeting_moves_with_its_list(week) -> None:
    coordinator, _, _, meeting_id = week
    listed = _list_everyone(coordinator, meeting_id)
    with pytest.raises(InvalidInputError) as refused:
        move_meeting(coordinator, meeting_id, "29/11/2026", "13:00", "Room taken", None)
    assert refused.value.errors == {"day": "The meeting must start in the future"}
    with pytest.raises(InvalidInputError) as refused:
        move_meeting(coordinator, meeting_id, "4/12/2026", "13:00", " ", None)
    assert "reason" in refused.value.errors
    move_meeting(coordinator, meeting_id, "4/12/2026", "09:30", "Clinic overran", None)
    meeting = _meeting(meeting_id)
    assert meeting.starts_at == datetime(2026, 12, 4, 9, 30, tzinfo=LONDON)
    assert meeting.cut_off_at == datetime(2026, 12, 3, 12, tzinfo=LONDON)
    assert [item.id for item in active_listings(meeting)] == [item.id for item in listed]
    moved = db.session.query(AuditEventModel).filter_by(action="meeting.moved").one()
    assert moved.detail["reason"] == "Clinic overran"


def test_a_cancelled_meeting_hands_its_list_to_the_next_and_loses_nobody(week) -> None:
    coordinator, _, patients, meeting_id = week
    _list_everyone(coordinator, meeting_id)
    target = cancel_meeting(coordinator, meeting_id, "Bank holiday cover", None, None)
    assert target is not None and target.starts_at == datetime(2026, 12, 10, 13, tzinfo=LONDON)
    cancelled = _meeting(meeting_id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_reason == "Bank holiday cover"
    assert {item.status for item in cancelled.listings} == {ListingStatus.ROLLED_OVER}
    moved = active_listings(target)
    assert [item.patient_id for item in moved] == patients
    assert all(item.rolled_over_from_id for item in moved)
    with pytest.raises(ConflictError):  # once cancelled, it stays cancelled
        cancel_meeting(coordinator, meeting_id, "again", None, None)


def test_a_meeting_that_was_held_cannot_be_cancelled_or_moved(week, monday) -> None:
    coordinator, _, _, meeting_id = week
    first = _list_everyone(coordinator, meeting_id)[0]
    monday.move_to(datetime(2026, 12, 3, 13, 5, tzinfo=LONDON))
    _present(coordinator, meeting_id, CORE)
    confirm_outcome(coordinator, first.id, OUTCOME, None, None)
    with pytest.raises(ConflictError, match="was held"):
        cancel_meeting(coordinator, meeting_id, "mistake", None, None)
    with pytest.raises(ConflictError, match="was held"):
        move_meeting(coordinator, meeting_id, "10/12/2026", "13:00", "mistake", None)


def test_an_extra_meeting_takes_patients_and_sends_back_those_not_discussed(week, monday) -> None:
    coordinator, _, patients, meeting_id = week
    with pytest.raises(InvalidInputError) as refused:
        create_meeting(coordinator, "Urgent MDT", "31/11/2026", "12:00", "", "")
    assert set(refused.value.errors) == {"day", "reason"}
    extra = create_meeting(
        coordinator, "Urgent MDT", "2/12/2026", "12:00", "Teams", "Cord compression"
    )
    assert extra.series_id is None
    _list_everyone(coordinator, extra.id)
    monday.move_to(datetime(2026, 12, 2, 14, tzinfo=LONDON))
    close_meeting(coordinator, extra.id, None)
    # Not discussed at an extra meeting: back among those waiting, for the next list.
    assert [t.patient_id for t in candidates(_meeting(meeting_id)).tasks] == patients


def test_an_attendee_added_by_mistake_is_removed_and_no_longer_counted(week, monday) -> None:
    coordinator, _, _, meeting_id = week
    monday.move_to(datetime(2026, 12, 3, 13, 0, tzinfo=LONDON))
    _present(coordinator, meeting_id, CORE)
    assert missing_disciplines(_meeting(meeting_id)) == []
    wrong = next(a for a in attendees(_meeting(meeting_id)) if a.discipline == "radiology")
    remove_attendee(coordinator, meeting_id, wrong.id, None)
    assert missing_disciplines(_meeting(meeting_id)) == ["radiology"]
    assert wrong.name not in {a.name for a in attendees(_meeting(meeting_id))}
    record_attendance(coordinator, meeting_id, wrong.name, "radiology", True, None)  # back
    assert missing_disciplines(_meeting(meeting_id)) == []


@pytest.fixture
def team(week, make_user):
    """The list with a referral that asks radiology to review the first patient."""
    coordinator, _, _, meeting_id = week
    first = new_patient(coordinator, 7)
    complete_with_examples(
        coordinator, ready_task(first.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    complete_with_examples(coordinator, ready_task(first.id, "Allocate a CNS key worker"))
    complete_with_examples(
        coordinator,
        ready_task(first.id, "List for MDT review"),
        clinical_question="New liver lesions: biopsy?",
        urgency="fast_track",
        imaging_for_review=True,
        pathology_for_review=False,
    )
    listed = _list_everyone(coordinator, meeting_id)
    users = {
        "oncologist": make_user("oncologist", username="onc", discipline="oncology"),
        "cns": make_user("cns", username="nurse", discipline="breast CNS"),
        "palliative": make_user("palliative", username="pall", discipline="palliative care"),
        "radiologist": make_user("mdt_member", username="rad", discipline="radiology"),
        "manager": make_user("manager", username="boss"),
    }
    urgent = next(item for item in listed if item.patient_id == first.id)
    return coordinator, meeting_id, listed, urgent, users


def test_every_core_member_sees_the_list_read_only(team, auth, client) -> None:
    _, meeting_id, _, urgent, users = team
    for who in ("oncologist", "cns", "palliative", "radiologist", "manager"):
        auth.login(users[who].username)
        page = client.get(f"/meetings/{meeting_id}")
        assert page.status_code == 200, who
        text = page.get_data(as_text=True)
        assert "New liver lesions: biopsy?" in text and "Fast track" in text, who
        assert "For review by: radiology" in text, who
        assert "Lock and circulate" not in text and "Waiting for MDT review" not in text, who
        one = client.get(f"/meetings/listings/{urgent.id}").get_data(as_text=True)
        assert "Confirm the outcome" not in one and "Urgency" in one, who
        refused = auth.post(
            f"/meetings/listings/{urgent.id}",
            {"discussion": "discussed"},
            f"/meetings/{meeting_id}",
        )
        assert refused.status_code == 403, who
        client.post("/sign-out", data={})


def test_the_radiologist_prepares_and_the_cns_marks_ready(team, auth, client, actor) -> None:
    _, meeting_id, listed, urgent, users = team
    auth.login("rad")
    page = client.get(f"/meetings/{meeting_id}/prepare").get_data(as_text=True)
    asked = page.split("Asked of radiology")[1].split("Everyone on the list")[0]
    assert urgent.patient.display_name in asked
    assert all(item.patient.display_name not in asked for item in listed if item is not urgent)
    response = auth.post(
        f"/meetings/{meeting_id}/listings/{urgent.id}/ready",
        {"back": "prepare"},
        f"/meetings/{meeting_id}/prepare",
    )
    assert response.status_code == 302
    mark_ready(actor(users["cns"]), urgent.id)
    mark_ready(actor(users["cns"]), urgent.id)  # twice is once
    db.session.expire_all()
    ready = [(m.discipline, m.user.username) for m in _listing(urgent.id).ready]
    assert ready == [("radiology", "rad"), ("breast CNS", "nurse")]
    list_page = client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert "radiology" in list_page and "breast CNS" in list_page
    with pytest.raises(Exception, match="does not prepare"):
        mark_ready(actor(users["manager"]), urgent.id)


def _listing(listing_id: int) -> Any:
    from mdt.models import ListingModel

    return db.session.get(ListingModel, listing_id)


def test_presenting_steps_through_the_list_and_moves_on_after_each_outcome(
    team, auth, client, monday
) -> None:
    coordinator, meeting_id, *_ = team
    order = [item.id for item in active_listings(_meeting(meeting_id))]
    monday.move_to(datetime(2026, 12, 3, 13, 0, tzinfo=LONDON))
    _present(coordinator, meeting_id, CORE)
    auth.login("coord")
    start = client.get(f"/meetings/{meeting_id}/present")
    assert start.status_code == 302 and f"/meetings/listings/{order[0]}?present=1" in start.location
    page = client.get(start.location).get_data(as_text=True)
    assert f"Patient 1 of {len(order)}" in page and "Previous patient" not in page
    assert f"/meetings/listings/{order[1]}?present=1" in page
    fields = {k: v for k, v in OUTCOME.items() if k != "meeting_date"}
    confirmed = auth.post(
        f"/meetings/listings/{order[0]}",
        {
            **fields,
            "presenting": "1",
            "action": "confirm",
            "palliative_referral_recommended": "no",
        },
        start.location,
    )
    problems = re.findall(r'<li><a href="#[^"]+">([^<]+)</a>', confirmed.get_data(as_text=True))
    assert confirmed.status_code == 302, problems
    assert confirmed.location.endswith(f"/meetings/listings/{order[1]}?present=1")
    page = client.get(confirmed.location).get_data(as_text=True)
    assert f"Patient 2 of {len(order)}" in page and "Previous patient" in page


CLINICAL = ("oncologist", "cns", "palliative", "radiologist", "manager")


@pytest.mark.parametrize("who", CLINICAL)
def test_a_crawl_as_each_member_of_the_team_meets_no_refused_link(
    team, auth, client, who, monday
) -> None:
    """From the home page, every link a page offers opens (no 403): the pages ask the same
    access policy as the routes they link to."""
    coordinator, meeting_id, listed, _, users = team
    monday.move_to(datetime(2026, 12, 3, 13, 0, tzinfo=LONDON))
    _present(coordinator, meeting_id, CORE)
    confirm_outcome(coordinator, listed[0].id, OUTCOME, None, None)  # a timeline with others' work
    auth.login(users[who].username)
    seen, queue, refused = set(), ["/", f"/meetings/{meeting_id}"], []
    while queue and len(seen) < 120:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, follow_redirects=True)  # the home page redirects
        response.close()
        if response.status_code == 403:
            refused.append(url)
            continue
        if response.mimetype != "text/html" or response.status_code != 200:
            continue
        for href in re.findall(r'href="(/[^"#]*)"', response.get_data(as_text=True)):
            path = urlsplit(href).path
            page_like = "." not in path.rsplit("/", 1)[-1]  # not a file: PDF, CSV, CSS...
            if href not in seen and page_like and not path.startswith("/sign-out"):
                queue.append(href.replace("&amp;", "&"))
    assert refused == [], f"{who} was offered links that refuse them"
    assert any(u.startswith("/meetings/listings/") for u in seen), who
    if who != "radiologist":  # they see the MDT's lists, not patient records
        assert any(re.match(r"/patients/\d+$", u) for u in seen), who
