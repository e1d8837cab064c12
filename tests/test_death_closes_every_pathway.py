"""A death is the patient's: recorded on one pathway's section of the record, confirmed from a
PAS notification, or sent through the API, it closes every pathway the patient is on (each
as its own death event does, or cancelling its open tasks when it declares none), takes them
off every MDT list and clears the notifications of the cancelled tasks; marking it entered
in error reopens every one of them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import (
    ClosingEventModel,
    HumanTaskModel,
    InstanceStatus,
    ListingModel,
    ListingStatus,
    NotificationModel,
    PathwayInstanceModel,
    PatientModel,
    TaskStatus,
)
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.assignments import claim_task
from mdt.services.closing_corrections import mark_entered_in_error
from mdt.services.errors import ConflictError
from mdt.services.meetings import add_listing, create_series, schedule_next
from mdt.services.notifications import notify_pass
from mdt.services.pas import confirm_death
from mdt.services.pas.deaths import report_death
from mdt.services.pathway_choice import start_another_pathway

from .conftest import Auth
from .helpers import complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS

pytestmark = pytest.mark.clock

LONDON = ZoneInfo("Europe/London")
CLINIC = "wound-care"
MAIN = "secondary-breast-cancer"


@pytest.fixture
def monday():
    with freeze_time(datetime(2026, 11, 30, 9, tzinfo=LONDON)) as frozen:
        yield frozen


@pytest.fixture
def both(monday, pathway, tiny_pathway, make_user, actor) -> dict[str, Any]:
    """A patient on the secondary breast cancer pathway (listed for Thursday's MDT, a task
    claimed by the key worker) and on the wound-care clinic, with notifications of their
    open tasks."""
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
    add_listing(
        coordinator, meeting.id, ready_task(patient.id, "Record MDT outcome").id, "discussion",
        None, None,
    )  # fmt: skip
    claimed = ready_task(patient.id, "First contact with key worker")
    claim_task(nurse, claimed.id)
    start_another_pathway(coordinator, patient.id, CLINIC)
    make_user("cns", "coordinator", "oncologist", username="colleague")  # told of new tasks
    monday.tick(timedelta(hours=1))
    notify_pass(datetime(2026, 11, 30, 10, tzinfo=LONDON))
    before = _open_task_ids(patient.id)
    assert {_key(t) for t in before} == {MAIN, CLINIC}
    assert _unread(before)  # someone was told of them
    return {
        "coordinator": coordinator,
        "nurse": nurse,
        "manager": manager,
        "patient_id": patient.id,
        "open_before": before,
        "claimed_id": claimed.id,
    }


def _instances(patient_id: int) -> dict[str, PathwayInstanceModel]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient_id)
    ).all()
    return {row.pathway_version.key: row for row in rows}


def _task(task_id: int) -> HumanTaskModel:
    task = db.session.get(HumanTaskModel, task_id)
    assert task is not None
    return task


def _patient(patient_id: int) -> PatientModel:
    patient = db.session.get(PatientModel, patient_id)
    assert patient is not None
    return patient


def _open_task_ids(patient_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(HumanTaskModel.id).where(
                HumanTaskModel.patient_id == patient_id, HumanTaskModel.status == TaskStatus.READY
            )
        )
    )


def _key(task_id: int) -> str:
    return str(_task(task_id).instance.pathway_version.key)


def _unread(task_ids: set[int]) -> list[NotificationModel]:
    return list(
        db.session.scalars(
            select(NotificationModel).where(
                NotificationModel.task_id.in_(task_ids), NotificationModel.read_at.is_(None)
            )
        )
    )


def _listed(patient_id: int) -> list[ListingModel]:
    return list(
        db.session.scalars(
            select(ListingModel).where(
                ListingModel.patient_id == patient_id, ListingModel.status == ListingStatus.LISTED
            )
        )
    )


def _assert_dead_everywhere(both: dict[str, Any], died_on: date) -> None:
    patient_id = both["patient_id"]
    instances = _instances(patient_id)
    assert set(instances) == {MAIN, CLINIC}
    for key, instance in instances.items():
        assert instance.close_reason == "death", key
        assert (
            instance.closed_at is not None
            and instance.closed_at.astimezone(LONDON).date() == died_on
        )
    # the clinic declares no death: closed with every task cancelled
    assert instances[CLINIC].status == InstanceStatus.CLOSED
    assert _patient(patient_id).date_of_death == died_on
    # every task open before the death is cancelled, on both pathways; what is open now is
    # only what the breast pathway's own death event starts (the bereavement follow-up)
    for task_id in both["open_before"]:
        assert _task(task_id).status == TaskStatus.CANCELLED
    started = {
        task_id
        for closing in db.session.scalars(select(ClosingEventModel))
        for task_id in closing.created_task_ids
    }
    assert _open_task_ids(patient_id) <= started
    assert {_key(t) for t in _open_task_ids(patient_id)} <= {MAIN}
    assert not _listed(patient_id)
    assert not _unread(both["open_before"])


def _correct_and_check(both: dict[str, Any], relisted: int = 1) -> None:
    patient_id = both["patient_id"]
    closings = db.session.scalars(select(ClosingEventModel).order_by(ClosingEventModel.id)).all()
    assert len(closings) == 2 and {c.instance_id for c in closings} == {
        i.id for i in _instances(patient_id).values()
    }
    cause, caused = closings
    assert caused.answers["with_closing"] == cause.id
    with pytest.raises(ConflictError, match="another of the patient's pathways"):
        mark_entered_in_error(both["manager"], patient_id, caused.id, "Wrong patient")
    mark_entered_in_error(both["manager"], patient_id, cause.id, "Wrong patient")
    instances = _instances(patient_id)
    for key, instance in instances.items():
        assert instance.status == InstanceStatus.RUNNING and instance.close_reason is None, key
    assert _patient(patient_id).date_of_death is None
    assert both["open_before"] <= _open_task_ids(patient_id)
    assert len(_listed(patient_id)) == relisted
    claimed = _task(both["claimed_id"])  # ready again for the key worker who held it
    assert claimed.status == TaskStatus.READY and claimed.assigned_to_id == both["nurse"].user_id


def test_a_death_recorded_on_the_clinic_section_closes_the_breast_pathway_too(
    both, auth: Auth, client: FlaskClient
) -> None:
    patient_id = both["patient_id"]
    auth.login("nurse")
    url = f"/patients/{patient_id}/events/new?event=death&pathway={CLINIC}"
    answers = {
        "event": "death",
        "pathway": CLINIC,
        "date-day": "29",
        "date-month": "11",
        "date-year": "2026",
        "confirm": "yes",
    }
    done = auth.post(f"/patients/{patient_id}/events/new", answers, form_url=url)
    assert done.status_code == 302, done.get_data(as_text=True)
    _assert_dead_everywhere(both, date(2026, 11, 29))
    _correct_and_check(both)


def test_a_pas_death_confirmed_closes_both_pathways(both) -> None:
    patient_id = both["patient_id"]
    notification = report_death(both["coordinator"], _patient(patient_id), date(2026, 11, 28), None)
    db.session.commit()
    assert notification is not None
    confirm_death(
        both["coordinator"],
        notification.id,
        {"place_of_death": "hospice", "next_of_kin_name": "Sam"},
    )
    _assert_dead_everywhere(both, date(2026, 11, 28))
    # the PAS report took them off the list before the close (see pas.deaths.reject_death)
    _correct_and_check(both, relisted=0)


def test_a_death_sent_through_the_api_without_a_key_closes_both(
    both, client: FlaskClient, make_user
) -> None:
    patient_id = both["patient_id"]
    user = make_user("cns")
    _, secret = create_token(SYSTEM, user.id, "tests")
    answer = client.post(
        f"/api/v1/patients/{patient_id}/events",
        json={
            "event": "death",
            "data": {
                "date_of_death": "2026-11-27",
                "place_of_death": "home",
                "next_of_kin_name": "Sam",
            },
        },
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)
    _assert_dead_everywhere(both, date(2026, 11, 27))
    _correct_and_check(both)


def test_a_paused_pathway_is_closed_by_the_death_too(both) -> None:
    """A pathway paused by a failure is care not ended: its tasks must not wait on a dead
    patient. It is closed as it stands, and the correction puts it back paused."""
    patient_id = both["patient_id"]
    clinic = _instances(patient_id)[CLINIC]
    clinic.status = InstanceStatus.ERROR
    clinic.error_message = "a state the engine could not read"
    db.session.commit()
    patient = _patient(patient_id)
    notification = report_death(both["coordinator"], patient, date(2026, 11, 28), None)
    db.session.commit()
    assert notification is not None
    confirm_death(both["coordinator"], notification.id, {"place_of_death": "home"})
    _assert_dead_everywhere(both, date(2026, 11, 28))
    closing = db.session.scalars(
        select(ClosingEventModel).order_by(ClosingEventModel.id.desc())
    ).first()
    assert closing is not None
    mark_entered_in_error(
        both["manager"], patient_id, closing.answers["with_closing"], "Wrong patient"
    )
    assert _instances(patient_id)[CLINIC].status == InstanceStatus.ERROR
    assert both["open_before"] <= _open_task_ids(patient_id)
