"""The standards projection is current at every commit, whichever path saved: after each use
case that changes something the measures read (a PAS or FHIR date-of-birth update, a meeting's
listing, attendance, outcome, close or cancellation, a closing event and its correction) the
stored cases equal a derivation from scratch. A statement whose reach is unknown marks the
projection for a rebuild instead; one that changes nothing read (claiming a task) does not."""

# The ward fixture comes from test_hl7_listener; using it as an argument "redefines" it.
# ruff: noqa: F811

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import select, update

from mdt.extensions import db
from mdt.models import ClosingEventModel, PathwayInstanceModel, PatientModel
from mdt.services.assignments import claim_task
from mdt.services.closing_corrections import mark_entered_in_error
from mdt.services.meetings import (
    add_listing,
    cancel_meeting,
    candidates,
    close_meeting,
    confirm_outcome,
    create_series,
    get_meeting,
    record_attendance,
    schedule_next,
)
from mdt.services.pas import handle_hl7
from mdt.services.patient_events import record_patient_event
from mdt.services.patient_standards import patient_cases
from mdt.services.report_cases import is_current, rebuild_cases

from .helpers import complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS
from .test_hl7_listener import MONDAY, adt, ward  # noqa: F401
from .test_meetings import OUTCOME
from .test_pas_feed import EDITH, _fhir, _token
from .test_request_cost import _from_scratch, _stored
from .timing import LONDON

pytestmark = pytest.mark.clock


def _all_current() -> None:
    """Every instance's stored cases, as committed, equal a derivation from scratch."""
    db.session.expire_all()
    ids = list(db.session.scalars(select(PathwayInstanceModel.id)))
    assert ids
    for instance_id in ids:
        assert _stored(instance_id) == _from_scratch(instance_id), instance_id


def _patient_cases(patient_id: int) -> list[Any]:
    instances = db.session.scalars(
        select(PathwayInstanceModel.id).where(PathwayInstanceModel.patient_id == patient_id)
    )
    return [row for instance_id in instances for row in _stored(instance_id)]


def test_a_pas_date_of_birth_change_derives_the_patients_cases(ward) -> None:
    """Edith, 66, is past the State Pension age: the work measure's case is not eligible.
    The PAS corrects her date of birth to 1980: it is, as of that message's commit."""
    with freeze_time(MONDAY):
        _all_current()
        before = _patient_cases(ward["edith"])
        handle_hl7(adt("A08", "MSG-DOB", EDITH, "Cavell", "Edith", born="19800101"))
        assert db.session.get_one(PatientModel, ward["edith"]).date_of_birth == date(1980, 1, 1)
        _all_current()
        assert _patient_cases(ward["edith"]) != before  # the change did reach a case


def test_a_fhir_demographics_update_derives_the_patients_cases(ward, client, make_user) -> None:
    """The API's edit of a patient's details (there is no screen for it)."""
    with freeze_time(MONDAY):
        before = _patient_cases(ward["edith"])
        url = f"/api/v1/fhir/Patient/{EDITH}"
        response = client.put(
            url, json=_fhir(birthDate="1985-06-15"), headers=_token(make_user, "coordinator")
        )
        assert response.status_code == 200 and response.get_json()["outcome"] == "applied"
        _all_current()
        assert _patient_cases(ward["edith"]) != before


@pytest.fixture
def week(pathway: Any, make_user: Any, actor: Any) -> Any:
    """Monday 30 November 2026: two patients waiting for Thursday's MDT."""
    with freeze_time(datetime(2026, 11, 30, 9, tzinfo=LONDON)) as frozen:
        coordinator = actor(make_user("coordinator", username="coord"))
        for index in range(2):
            patient = new_patient(coordinator, index)
            complete_with_examples(
                coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
            )
            complete_with_examples(
                coordinator, ready_task(patient.id, "List for MDT review"), clinical_question="?"
            )
        series = create_series(coordinator, "Secondary breast MDT", 3, "13:00", "Room 4")
        meeting = schedule_next(coordinator, series.id)
        yield frozen, coordinator, meeting.id


def test_a_meetings_list_attendance_outcome_and_close_keep_the_cases_current(week) -> None:
    clock, coordinator, meeting_id = week
    for task in candidates(get_meeting(meeting_id)).tasks:
        add_listing(coordinator, meeting_id, task.id, "discussion", None, None)
        _all_current()
    clock.move_to(datetime(2026, 12, 3, 13, 5, tzinfo=LONDON))
    record_attendance(coordinator, meeting_id, "Dr Oncology", "oncology", True, None)
    _all_current()
    first = get_meeting(meeting_id).listings[0]
    confirm_outcome(coordinator, first.id, OUTCOME, "reason", None)
    _all_current()
    close_meeting(coordinator, meeting_id, None)  # the other patient rolls over
    _all_current()


def test_a_cancelled_meeting_keeps_the_cases_current(week) -> None:
    _, coordinator, meeting_id = week
    for task in candidates(get_meeting(meeting_id)).tasks:
        add_listing(coordinator, meeting_id, task.id, "discussion", None, None)
    moved_to = cancel_meeting(coordinator, meeting_id, "Bank holiday", None, None)
    assert moved_to is not None and moved_to.listings
    _all_current()


def test_a_death_and_its_entry_in_error_keep_the_cases_current(week, make_user, actor) -> None:
    clock, coordinator, _ = week
    manager = actor(make_user("manager", username="boss"))
    patient_id = db.session.scalars(select(PatientModel.id).order_by(PatientModel.id)).first()
    assert patient_id is not None
    clock.tick(timedelta(hours=2))
    record_patient_event(
        coordinator,
        patient_id,
        "death",
        {"date_of_death": "2026-11-29", "place_of_death": "home", "next_of_kin_name": "Sam"},
    )
    _all_current()
    closing = db.session.get_one(PathwayInstanceModel, _instance_of(patient_id))
    assert closing.close_reason == "death"
    [event] = db.session.scalars(select(ClosingEventModel)).all()
    mark_entered_in_error(manager, patient_id, event.id, "Wrong patient")
    _all_current()


def _instance_of(patient_id: int) -> int:
    return db.session.scalars(
        select(PathwayInstanceModel.id).where(PathwayInstanceModel.patient_id == patient_id)
    ).one()


def test_a_statement_of_unknown_reach_marks_the_projection_for_a_rebuild(week) -> None:
    """Claiming a task (a statement setting only who does it) leaves the projection built;
    a statement changing dates of birth wholesale marks it for a rebuild, which the next
    report makes."""
    _, coordinator, _ = week
    rebuild_cases()
    db.session.commit()
    assert is_current()
    patient_id = db.session.scalars(select(PatientModel.id).order_by(PatientModel.id)).first()
    assert patient_id is not None
    claim_task(coordinator, ready_task(patient_id, "Allocate a CNS key worker").id)
    assert is_current()
    db.session.execute(update(PatientModel).values(date_of_birth=date(1985, 1, 1)))
    db.session.commit()
    assert not is_current()
    rebuild_cases()
    db.session.commit()
    assert is_current()
    _all_current()


def test_a_patient_s_scorecard_is_derived_again_while_the_projection_is_stale(week) -> None:
    """Between a change of unknown reach and the report's rebuild, the patient whose record
    is opened is derived afresh: their scorecard is never the stale one."""
    rebuild_cases()
    db.session.commit()
    patient_id = db.session.scalars(select(PatientModel.id).order_by(PatientModel.id)).first()
    assert patient_id is not None
    db.session.execute(update(PatientModel).values(date_of_birth=date(1985, 1, 1)))
    db.session.commit()
    assert not is_current()
    patient_cases(patient_id)
    db.session.commit()
    db.session.expire_all()
    for instance_id in db.session.scalars(
        select(PathwayInstanceModel.id).where(PathwayInstanceModel.patient_id == patient_id)
    ):
        assert _stored(instance_id) == _from_scratch(instance_id)
