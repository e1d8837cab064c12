"""Death, discharge and transfer: a page says what will happen before anything changes, and a
manager can mark one entered in error, which puts the pathway back exactly as it was."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import (
    AuditEventModel,
    ClosingEventModel,
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    NotificationModel,
    PathwayInstanceModel,
    PatientModel,
    ReportCaseModel,
    TaskStatus,
    TimerModel,
)
from mdt.services.assignments import claim_task
from mdt.services.closing_corrections import mark_entered_in_error
from mdt.services.errors import ConflictError, InvalidInputError, PermissionDeniedError
from mdt.services.meetings import add_listing, close_meeting, create_series, schedule_next
from mdt.services.patient_events import record_patient_event

from .conftest import Auth
from .helpers import complete_with_examples, new_patient, ready_task, start_on
from .scenarios import DIAGNOSIS

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

LONDON = ZoneInfo("Europe/London")
DEATH = {
    "event": "death",
    "date_of_death-day": "29",
    "date_of_death-month": "11",
    "date_of_death-year": "2026",
    "place_of_death": "hospice",
    "next_of_kin_name": "Sam Lovelace",
}


@pytest.fixture
def monday():
    """Monday 30 November 2026, 09:00 (London); steps move on with freeze_time."""
    with freeze_time(datetime(2026, 11, 30, 9, tzinfo=LONDON)) as frozen:
        yield frozen


@pytest.fixture
def listed(monday, pathway, make_user, actor) -> dict[str, Any]:
    """A patient on the secondary breast cancer pathway, listed for Thursday's MDT, one of
    their tasks claimed by the key worker."""
    coordinator = actor(make_user("coordinator", username="coord"))
    nurse = actor(make_user("cns", username="nurse"))
    manager = actor(make_user("manager", username="boss"))
    patient = new_patient(coordinator)
    complete_with_examples(
        coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    complete_with_examples(coordinator, ready_task(patient.id, "Allocate a CNS key worker"))
    complete_with_examples(
        coordinator, ready_task(patient.id, "List for MDT review"), clinical_question="Next line?"
    )
    series = create_series(coordinator, "Secondary breast MDT", 3, "13:00", "Room 4")
    meeting = schedule_next(coordinator, series.id)
    referral = ready_task(patient.id, "Record MDT outcome")
    add_listing(coordinator, meeting.id, referral.id, "discussion", None, None)
    claimed = ready_task(patient.id, "First contact with key worker")
    claim_task(nurse, claimed.id)
    return {
        "coordinator": coordinator,
        "nurse": nurse,
        "manager": manager,
        "patient_id": patient.id,
        "meeting_id": meeting.id,
        "claimed_id": claimed.id,
    }


def _state(patient_id: int) -> dict[str, Any]:
    """Everything a close changes, as comparable values."""
    db.session.expire_all()
    patient = db.session.get(PatientModel, patient_id)
    [instance] = db.session.scalars(
        select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient_id)
    ).all()
    tasks = db.session.scalars(
        select(HumanTaskModel).where(HumanTaskModel.patient_id == patient_id)
    ).all()
    cases = db.session.scalars(
        select(ReportCaseModel).where(ReportCaseModel.patient_id == patient_id)
    ).all()
    return {
        "date_of_death": patient.date_of_death,
        "instance": (
            instance.state,
            instance.status,
            instance.closed_at,
            instance.close_reason,
            instance.error_message,
        ),
        "tasks": sorted(
            (t.id, t.name, t.status, t.assigned_to_id, t.due_at, t.spiff_task_id) for t in tasks
        ),
        "timers": sorted(
            (t.event_name, t.due_at)
            for t in db.session.scalars(
                select(TimerModel).where(TimerModel.instance_id == instance.id)
            )
        ),
        "listings": sorted(
            (item.id, item.meeting_id, item.status, item.removed_reason)
            for item in db.session.scalars(
                select(ListingModel).where(ListingModel.patient_id == patient_id)
            )
        ),
        "cases": sorted(
            (c.measure, c.episode_id, c.task_id, c.start_on, c.closed_on, c.close_reason, c.outcome)
            for c in cases
        ),
    }


def test_a_death_is_confirmed_on_a_page_that_says_what_will_happen(
    listed, auth: Auth, client: FlaskClient
) -> None:
    patient_id = listed["patient_id"]
    before = _state(patient_id)
    url = f"/patients/{patient_id}/events/new?event=death"
    auth.login("nurse")
    page = auth.post(url, DEATH, form_url=url)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "nothing has changed yet" in text
    will_cancel = text.split('app-will-cancel">')[1].split("</ul>")[0]
    assert "First contact with key worker (Nurse)" in will_cancel  # by name, with who has it
    assert "Record MDT outcome" in will_cancel
    assert "Offer bereavement support" in text.split('app-will-start">')[1].split("</ul>")[0]
    assert "Secondary breast MDT" in text.split('app-will-withdraw">')[1].split("</ul>")[0]
    assert "closes as of <strong>29 November 2026</strong>" in text
    assert _state(patient_id) == before  # nothing changes until it is confirmed

    confirm = dict(
        DEATH, confirm="yes", version=text.split('name="version" value="')[1].split('"')[0]
    )
    assert auth.post(url, confirm, form_url=url).status_code == 302
    after = _state(patient_id)
    assert after["date_of_death"] is not None and after["instance"][3] == "death"
    assert all(status == ListingStatus.REMOVED for _, _, status, _ in after["listings"])
    assert {name for _, name, status, *_ in after["tasks"] if status == TaskStatus.READY} >= {
        "Offer bereavement support"
    }


def test_a_confirmation_made_on_an_old_picture_changes_nothing(
    listed, auth: Auth, client: FlaskClient
) -> None:
    patient_id = listed["patient_id"]
    url = f"/patients/{patient_id}/events/new?event=death"
    auth.login("nurse")
    text = auth.post(url, DEATH, form_url=url).get_data(as_text=True)
    version = text.split('name="version" value="')[1].split('"')[0]
    complete_with_examples(listed["nurse"], ready_task(patient_id, "First contact with key worker"))
    before = _state(patient_id)
    stale = auth.post(url, dict(DEATH, confirm="yes", version=version), form_url=url)
    assert stale.status_code == 409
    assert "changed since you checked" in stale.get_data(as_text=True)
    assert _state(patient_id) == before


def test_a_death_entered_in_error_puts_everything_back(
    listed, auth: Auth, client: FlaskClient, monday
) -> None:
    """Tasks (ready again, same assignee and due date), timers, the MDT listing, the date of
    death, the engine state and the report's cases are exactly as before the death."""
    patient_id = listed["patient_id"]
    before = _state(patient_id)
    monday.tick(timedelta(hours=2))
    record_patient_event(
        listed["nurse"],
        patient_id,
        "death",
        {"date_of_death": "2026-11-29", "place_of_death": "home", "next_of_kin_name": "Sam"},
    )
    closed = _state(patient_id)
    assert closed != before and closed["date_of_death"] is not None
    assert closed["timers"] != before["timers"]
    [closing] = db.session.scalars(select(ClosingEventModel)).all()
    assert closing.created_task_ids  # the bereavement follow-up and the GP letter

    auth.login("boss")
    page = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert "Entered in error?" in page
    page = client.get(f"/patients/{patient_id}/closings").get_data(as_text=True)
    assert "Mark entered in error" in page and "back on Secondary breast MDT" in page
    assert "First contact with key worker" in page
    url = f"/patients/{patient_id}/closings/{closing.id}"
    empty = auth.post(url, {"reason": " "}, form_url=f"/patients/{patient_id}/closings")
    assert empty.status_code == 400 and "Enter why it was entered in error" in empty.get_data(
        as_text=True
    )
    assert _state(patient_id) == closed
    done = auth.post(
        url,
        {"reason": "Wrong patient: the death was another Jo"},
        f"/patients/{patient_id}/closings",
    )
    assert done.status_code == 302

    after = _state(patient_id)
    assert after["date_of_death"] is None
    assert after["instance"] == before["instance"]
    assert after["timers"] == before["timers"]
    assert after["listings"] == before["listings"]
    assert after["cases"] == before["cases"]
    started = set(closing.created_task_ids)
    assert [t for t in after["tasks"] if t[0] not in started] == before["tasks"]
    assert {t[2] for t in after["tasks"] if t[0] in started} == {TaskStatus.CANCELLED}
    claimed = db.session.get(HumanTaskModel, listed["claimed_id"])
    assert claimed.status == TaskStatus.READY and claimed.assigned_to_id == listed["nurse"].user_id

    audit = db.session.scalars(
        select(AuditEventModel).where(AuditEventModel.action == "pathway.close_entered_in_error")
    ).one()
    assert audit.actor_id == listed["manager"].user_id and audit.patient_id == patient_id
    assert audit.detail["why"] == "Wrong patient: the death was another Jo"
    db.session.expire_all()
    closing = db.session.get(ClosingEventModel, closing.id)
    assert closing.corrected_by_id == listed["manager"].user_id

    # the pathway runs on as before: the key worker completes the task they held
    complete_with_examples(listed["nurse"], ready_task(patient_id, "First contact with key worker"))
    with pytest.raises(ConflictError):  # once only
        mark_entered_in_error(listed["manager"], patient_id, closing.id, "Again")


def test_a_meeting_held_since_is_flagged_for_the_coordinator(listed, monday) -> None:
    patient_id = listed["patient_id"]
    record_patient_event(
        listed["nurse"],
        patient_id,
        "death",
        {"date_of_death": "2026-11-29", "place_of_death": "home"},
    )
    monday.move_to(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON))
    close_meeting(listed["coordinator"], listed["meeting_id"], None)
    closing = db.session.scalars(select(ClosingEventModel)).one()
    mark_entered_in_error(listed["manager"], patient_id, closing.id, "Recorded on the wrong record")
    listing = db.session.get(ListingModel, closing.listing_ids[0])
    assert listing.status == ListingStatus.REMOVED  # that meeting is over
    told = db.session.scalars(
        select(NotificationModel).where(
            NotificationModel.user_id == listed["coordinator"].user_id,
            NotificationModel.message.contains("entered in error"),
        )
    ).one()
    assert "list them again" in told.message and told.patient_id == patient_id
    assert db.session.get(ClosingEventModel, closing.id).correction["flagged"] == [listing.id]


def test_only_managers_and_only_within_the_period(listed, monday, app) -> None:
    patient_id = listed["patient_id"]
    record_patient_event(
        listed["nurse"],
        patient_id,
        "death",
        {"date_of_death": "2026-11-29", "place_of_death": "home"},
    )
    closing = db.session.scalars(select(ClosingEventModel)).one()
    with pytest.raises(PermissionDeniedError):
        mark_entered_in_error(listed["nurse"], patient_id, closing.id, "Mistake")
    with pytest.raises(InvalidInputError):
        mark_entered_in_error(listed["manager"], patient_id, closing.id, "")
    assert app.config["MDT_CLOSE_CORRECTION_DAYS"] == 30
    monday.tick(timedelta(days=31))
    with pytest.raises(ConflictError, match="more than 30 days ago"):
        mark_entered_in_error(listed["manager"], patient_id, closing.id, "Mistake")
    assert db.session.get(PatientModel, patient_id).date_of_death is not None


def test_a_generic_discharge_is_confirmed_and_corrected(
    monday, tiny_pathway, make_user, actor, auth: Auth, client: FlaskClient
) -> None:
    """A pathway that declares no way to end care: the application's own close cancels
    every open task; entered in error, the pathway is running again with them."""
    nurse = actor(make_user("cns", username="nurse"))
    manager = actor(make_user("manager", username="boss"))
    patient = new_patient(nurse, start=False)
    start_on(nurse, patient, "wound-care")
    before = _state(patient.id)
    url = f"/patients/{patient.id}/events/new?event=discharge"
    auth.login("nurse")
    answers = {"event": "discharge", "date-day": "30", "date-month": "11", "date-year": "2026"}
    text = auth.post(url, answers, form_url=url).get_data(as_text=True)
    assert "Assess the wound" in text.split('app-will-cancel">')[1].split("</ul>")[0]
    assert _state(patient.id) == before
    assert auth.post(url, dict(answers, confirm="yes"), form_url=url).status_code == 302
    assert _state(patient.id)["instance"][1] == "closed"
    closing = db.session.scalars(select(ClosingEventModel)).one()
    assert closing.declared is False and closing.reason == "discharge"
    mark_entered_in_error(manager, patient.id, closing.id, "Discharged the wrong patient")
    assert _state(patient.id) == before | {"instance": before["instance"]}
    assert ready_task(patient.id, "Assess the wound")


def test_the_correction_page_is_for_managers(listed, auth: Auth, client: FlaskClient) -> None:
    auth.login("nurse")
    assert client.get(f"/patients/{listed['patient_id']}/closings").status_code == 403


def test_answers_hidden_by_a_reveal_are_removed_and_the_confirmation_says_so(
    listed, auth: Auth, client: FlaskClient
) -> None:
    patient_id = listed["patient_id"]
    url = f"/patients/{patient_id}/events/new?event=death"
    auth.login("nurse")
    text = auth.post(url, dict(DEATH, place_of_death_other="The seaside"), form_url=url).get_data(
        as_text=True
    )
    assert "Answers to questions you hid were removed: Where." in text
    summary = text.split("What you recorded")[1]
    assert "Hospice" in summary and "The seaside" not in summary  # not carried on either
    version = text.split('name="version" value="')[1].split('"')[0]
    confirmed = auth.post(
        url, dict(DEATH, place_of_death_other="The seaside", confirm="yes", version=version), url
    )
    assert confirmed.status_code == 302
    closing = db.session.scalars(select(ClosingEventModel)).one()
    assert "place_of_death_other" not in closing.answers


def test_letters_waiting_to_be_sent_are_named_on_the_confirmation(
    monday, pathway, make_user, actor
) -> None:
    from mdt.services.patient_events import preview_close

    coordinator = actor(make_user("coordinator", username="coord"))
    patient = new_patient(coordinator)
    complete_with_examples(
        coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    complete_with_examples(coordinator, ready_task(patient.id, "Allocate a CNS key worker"))
    complete_with_examples(coordinator, ready_task(patient.id, "List for MDT review"))
    complete_with_examples(coordinator, ready_task(patient.id, "Record MDT outcome"))
    letters = [t for t in _open_tasks(patient.id) if t.mdt_step == "gp-letter"]
    assert letters, "the outcome starts the GP letter"
    preview = preview_close(
        coordinator, patient.id, "death", {"date_of_death": "2026-11-29", "place_of_death": "home"}
    )
    assert {t.id for t in letters} <= {t.id for t in preview.letters}
    assert {t.id for t in preview.letters} <= {t.id for t in preview.cancelled}


def _open_tasks(patient_id: int) -> list[HumanTaskModel]:
    return list(
        db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.patient_id == patient_id, HumanTaskModel.status == TaskStatus.READY
            )
        )
    )
