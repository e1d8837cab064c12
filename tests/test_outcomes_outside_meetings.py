"""MDT outcomes are recorded against a meeting. One recorded anywhere else (the task page, the
API) is an explicit "decided outside a meeting" decision, with its reason and the deciding
clinicians; it is reported as such, and every outcome of a patient, at meetings or not, is in
the meeting report and in the FHIR export."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import (
    AuditEventModel,
    HumanTaskModel,
    OutsideMeetingDecisionModel,
    PatientModel,
    TaskStatus,
)
from mdt.services.api_tokens import create_token
from mdt.services.demo import example_answers
from mdt.services.errors import InvalidInputError
from mdt.services.fhir_export import MDT_DECISION_SETTING, patient_bundle
from mdt.services.instances import complete_task
from mdt.services.meetings import (
    add_listing,
    confirm_outcome,
    core_disciplines,
    create_series,
    record_attendance,
    schedule_next,
)
from mdt.services.operational_reports import meeting_report
from mdt.services.outside_meetings import RULE, DecidingClinician, OutsideMeeting
from mdt.services.pathways import engine_for, form_schema
from mdt.services.patient_events import record_patient_event
from mdt.services.standards_report import ReportQuery
from mdt.services.users import find_user

from .helpers import complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

LONDON = ZoneInfo("Europe/London")
OUTCOME = {
    "meeting_date": "2026-11-27",  # outside a meeting: the day the clinicians decided
    "discussion": "discussed",
    "recommendation": "Palliative radiotherapy to the spine, then letrozole",
    "treatment_intent": "symptom_control",
    "planned_treatment": "radiotherapy",
    "trial_considered": "not_eligible",
    "performance_status": 2,
    "palliative_referral_recommended": False,
    "informs_patient": "Dr Okafor",
    "checked_by": "Dr Okafor",
}
REASON = "Urgent decision between meetings: new cord compression"
OKAFOR = DecidingClinician("Dr Amara Okafor", "oncology")
REID = DecidingClinician("Sam Reid", "breast CNS")
DECIDED = OutsideMeeting(REASON, (OKAFOR, REID))


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


@pytest.fixture
def monday():
    """Monday 30 November 2026, 09:00; steps move on with the frozen clock."""
    with freeze_time(at(11, 30, 9)) as frozen:
        yield frozen


@pytest.fixture
def outcome_waiting(monday, pathway, make_user, actor):
    """A patient listed for MDT review: their MDT outcome waits to be recorded."""
    coordinator = actor(make_user("coordinator", username="coord"))
    patient = new_patient(coordinator)
    complete_with_examples(
        coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    complete_with_examples(
        coordinator,
        ready_task(patient.id, "List for MDT review"),
        clinical_question="Back pain: cord compression?",
    )
    return coordinator, patient.id, ready_task(patient.id, "Record MDT outcome")


def _decisions() -> list[OutsideMeetingDecisionModel]:
    return list(db.session.scalars(select(OutsideMeetingDecisionModel)))


def test_an_outcome_away_from_a_meeting_is_refused_without_the_declaration(
    outcome_waiting, make_user, actor
) -> None:
    coordinator, patient_id, task = outcome_waiting
    refusals: list[tuple[OutsideMeeting | None, set[str]]] = [
        (None, {"outside_meeting"}),
        (OutsideMeeting(REASON, (OKAFOR,)), {"outside_meeting.clinicians"}),
        (  # two people, one discipline: not a team's decision
            OutsideMeeting(REASON, (OKAFOR, DecidingClinician("Dr Ben Hale", "Oncology"))),
            {"outside_meeting.clinicians"},
        ),
        (OutsideMeeting("  ", (OKAFOR, REID)), {"outside_meeting.reason"}),
        (
            OutsideMeeting(REASON, (OKAFOR, REID, DecidingClinician("Kim Lee", ""))),
            {"outside_meeting.clinicians.2.discipline"},
        ),
    ]
    for declaration, fields in refusals:
        with pytest.raises(InvalidInputError) as refused:
            complete_task(coordinator, task.id, OUTCOME, declaration)
        assert set(refused.value.errors) == fields, declaration
    with pytest.raises(InvalidInputError) as refused:
        complete_task(coordinator, task.id, OUTCOME)
    assert refused.value.errors["outside_meeting"].startswith(
        "MDT outcomes are recorded at a meeting."
    )
    with pytest.raises(InvalidInputError) as refused:
        complete_task(coordinator, task.id, OUTCOME, OutsideMeeting(REASON, (OKAFOR,)))
    assert refused.value.errors["outside_meeting.clinicians"] == RULE
    # The form's problems and the declaration's are given together.
    with pytest.raises(InvalidInputError) as refused:
        complete_task(coordinator, task.id, {**OUTCOME, "performance_status": 9})
    assert {"performance_status", "outside_meeting"} <= set(refused.value.errors)
    db.session.expire_all()
    assert ready_task(patient_id, "Record MDT outcome").id == task.id and _decisions() == []

    # A declaration belongs to an MDT outcome only.
    nurse = actor(make_user("cns"))
    other = ready_task(patient_id, "First contact with key worker")
    schema = form_schema(other.instance.pathway_version, other.form) or {}
    with pytest.raises(InvalidInputError) as refused:
        complete_task(nurse, other.id, example_answers(schema), DECIDED)
    assert set(refused.value.errors) == {"outside_meeting"}


def test_a_declared_decision_is_kept_with_its_reason_and_clinicians_and_audited(
    outcome_waiting,
) -> None:
    coordinator, patient_id, task = outcome_waiting
    complete_task(coordinator, task.id, OUTCOME, DECIDED)
    db.session.expire_all()
    assert db.session.get(HumanTaskModel, task.id).status == TaskStatus.COMPLETED
    [decision] = _decisions()
    assert (decision.task_id, decision.patient_id, decision.reason) == (task.id, patient_id, REASON)
    assert decision.clinicians == [
        {"name": "Dr Amara Okafor", "discipline": "oncology"},
        {"name": "Sam Reid", "discipline": "breast CNS"},
    ]
    assert decision.decided_on == date(2026, 11, 27)  # the date the form gives, not today
    assert decision.recorded_by_id == coordinator.user_id
    [event] = db.session.scalars(
        select(AuditEventModel).where(AuditEventModel.action == "outcome.decided_outside_meeting")
    ).all()
    assert event.patient_id == patient_id and event.object_id == str(task.id)
    assert event.detail["reason"] == REASON and len(event.detail["clinicians"]) == 2


def _posted(answers: dict[str, Any]) -> dict[str, str]:
    """The outcome's answers as the task page posts them."""
    form = {}
    for key, value in answers.items():
        if key == "meeting_date":
            year, month, day = value.split("-")
            form |= {f"{key}-day": day, f"{key}-month": month, f"{key}-year": year}
        elif isinstance(value, bool):
            form[key] = "yes" if value else "no"
        else:
            form[key] = str(value)
    return form


def test_the_task_page_says_where_outcomes_are_recorded_and_refuses_keeping_the_input(
    outcome_waiting, auth, client
) -> None:
    task = outcome_waiting[2]
    url = f"/tasks/{task.id}"
    auth.login("coord")
    page = client.get(url).get_data(as_text=True)
    assert "MDT outcomes are recorded at a meeting" in page
    assert 'href="/meetings">add the patient to the next meeting\'s list</a>' in page
    assert 'name="outside_meeting.reason"' in page and RULE in page

    refused = auth.post(url, {**_posted(OUTCOME), "action": "complete"})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "There is a problem" in text
    assert 'href="#field-outside_meeting">MDT outcomes are recorded at a meeting.' in text
    assert OUTCOME["recommendation"] in text  # what was typed is kept

    one_person = {
        "outside_meeting": "yes",
        "outside_meeting.reason": REASON,
        "outside_meeting.clinicians.0.name": OKAFOR.name,
        "outside_meeting.clinicians.0.discipline": OKAFOR.discipline,
    }
    refused = auth.post(url, {**_posted(OUTCOME), **one_person, "action": "complete"})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert f'href="#field-outside_meeting.clinicians">{RULE}' in text
    assert REASON in text and f'value="{OKAFOR.name}"' in text and "checked" in text
    assert _decisions() == []

    declared = {
        **one_person,
        "outside_meeting.clinicians.1.name": REID.name,
        "outside_meeting.clinicians.1.discipline": REID.discipline,
    }
    done = auth.post(url, {**_posted(OUTCOME), **declared, "action": "complete"})
    assert done.status_code == 302, done.get_data(as_text=True)
    [decision] = _decisions()
    assert decision.reason == REASON and [c["name"] for c in decision.clinicians] == [
        OKAFOR.name,
        REID.name,
    ]
    shown = client.get(url).get_data(as_text=True)
    assert "Outside a meeting" in shown and REASON in shown
    assert "Dr Amara Okafor (oncology); Sam Reid (breast CNS)" in shown


def test_the_api_answers_422_until_the_declaration_is_given(outcome_waiting, client) -> None:
    coordinator, _, task = outcome_waiting
    _, secret = create_token(coordinator, coordinator.user_id, "tests")
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"/api/v1/tasks/{task.id}"
    assert client.get(url, headers=headers).json["outside_meeting_required"] is True

    refused = client.post(f"{url}/complete", json={"data": OUTCOME}, headers=headers)
    assert refused.status_code == 422
    assert "recorded at a meeting" in refused.json["error"]["details"]["outside_meeting"]
    alone = {"reason": REASON, "clinicians": [{"name": OKAFOR.name, "discipline": "oncology"}]}
    refused = client.post(
        f"{url}/complete", json={"data": OUTCOME, "outside_meeting": alone}, headers=headers
    )
    assert refused.status_code == 422
    assert refused.json["error"]["details"] == {"outside_meeting.clinicians": RULE}
    nameless = {"reason": REASON, "clinicians": [{"discipline": "oncology"}]}
    refused = client.post(
        f"{url}/complete", json={"data": OUTCOME, "outside_meeting": nameless}, headers=headers
    )
    assert refused.status_code == 422
    assert "outside_meeting.clinicians.0.name" in refused.json["error"]["details"]

    declared = {
        "reason": REASON,
        "clinicians": [{"name": c.name, "discipline": c.discipline} for c in (OKAFOR, REID)],
    }
    done = client.post(
        f"{url}/complete", json={"data": OUTCOME, "outside_meeting": declared}, headers=headers
    )
    assert done.status_code == 200, done.json
    assert done.json["outside_meeting_required"] is False
    assert done.json["mdt_decision"] == {
        "at_meeting": False,
        "meeting_id": None,
        "decided_on": "2026-11-27",
        "reason": REASON,
        "clinicians": declared["clinicians"],
    }


def _event(actor: Any, patient_id: int, name: str, answers: dict[str, Any]) -> None:
    instance = (
        db.session.scalars(select(HumanTaskModel).where(HumanTaskModel.patient_id == patient_id))
        .first()
        .instance
    )
    pathway = engine_for(instance.pathway_version).pathway
    schema = pathway.forms[pathway.events[name].form]
    record_patient_event(actor, patient_id, name, {**example_answers(schema), **answers})


def _at_meeting(coordinator: Any, meeting_id: int, task_id: int, starts: datetime, clock) -> None:
    """Listed in good time, then discussed and confirmed at a quorate meeting."""
    listing = add_listing(coordinator, meeting_id, task_id, "discussion", None, None)
    clock.move_to(starts.replace(minute=20))
    for discipline in core_disciplines():
        record_attendance(
            coordinator, meeting_id, f"Dr {discipline.title()}", discipline, True, None
        )
    confirm_outcome(coordinator, listing.id, OUTCOME, None, None)  # no declaration: at a meeting


@pytest.fixture
def three_reviews(outcome_waiting, monday, make_user, actor):
    """December 2026: a patient's three MDT reviews. Two at meetings (the new diagnosis on
    3 December, a progression on the 10th), one decided outside a meeting (a change of
    treatment, on the 11th). Returns the patient, the meetings and the outcome tasks."""
    coordinator, patient_id, first = outcome_waiting
    nurse = actor(make_user("cns"))
    series = create_series(coordinator, "Secondary breast MDT", 3, "13:00", "Room 4")
    meeting_1 = schedule_next(coordinator, series.id)  # Thursday 3 December
    _at_meeting(coordinator, meeting_1.id, first.id, at(12, 3, 13), monday)

    monday.move_to(at(12, 4, 10))
    progression = {"progression_date": "2026-12-03", "mdt_question": "Next line?"}
    _event(nurse, patient_id, "progression", {**progression, "fast_track": False})
    second = ready_task(patient_id, "Record MDT outcome")
    meeting_2 = schedule_next(coordinator, series.id, at(12, 4, 10))  # Thursday 10 December
    _at_meeting(coordinator, meeting_2.id, second.id, at(12, 10, 13), monday)

    monday.move_to(at(12, 11, 10))
    _event(nurse, patient_id, "treatment_change",
           {"decision_to_treat_date": "2026-12-11", "planned_start_date": "2026-12-21",
            "treatment_line": 2, "regimen": "Capecitabine", "reason": "toxicity",
            "fast_track": False, "mdt_question": "Change to capecitabine agreed?"})  # fmt: skip
    third = ready_task(patient_id, "Record MDT outcome")
    monday.move_to(at(12, 11, 15))
    complete_task(coordinator, third.id, {**OUTCOME, "meeting_date": "2026-12-11"}, DECIDED)

    outcome_tasks = db.session.scalars(
        select(HumanTaskModel.id)
        .where(HumanTaskModel.patient_id == patient_id, HumanTaskModel.mdt_step == "outcome")
        .order_by(HumanTaskModel.id)
    ).all()
    assert outcome_tasks == [first.id, second.id, third.id]  # every MDT outcome of the patient
    make_user("manager", username="boss")
    return patient_id, (meeting_1.id, meeting_2.id), outcome_tasks


def test_every_outcome_of_three_mdt_reviews_is_in_the_meeting_report(
    three_reviews, actor, auth, client
) -> None:
    """Each meeting's outcome under its meeting; the third as decided outside a meeting, with
    its reason and who decided, counted on its own row."""
    patient_id, (meeting_1, meeting_2), (first, second, third) = three_reviews
    manager = actor(find_user("boss"))
    report = meeting_report(manager, ReportQuery(date(2026, 12, 1), date(2026, 12, 31)))
    assert {row.meeting.id: [o.task.id for o in row.outcomes] for row in report.rows} == {
        meeting_1: [first],
        meeting_2: [second],
    }
    [outside] = report.outside
    assert report.outside_count == 1 and outside.task.id == third and not outside.at_meeting
    assert (outside.reason, outside.decided_on) == (REASON, date(2026, 12, 11))
    assert [o.task.id for o in report.outcomes] == [first, second, third]
    assert [o.at_meeting for o in report.outcomes] == [True, True, False]

    auth.login("boss")
    query = "?since=2026-12-01&until=2026-12-31"
    page = client.get(f"/reports/meetings{query}").get_data(as_text=True)
    assert "Decided outside a meeting: 1." in page and REASON in page
    assert "Dr Amara Okafor (oncology); Sam Reid (breast CNS)" in page
    name = db.session.get(PatientModel, patient_id).display_name
    assert page.split('id="every-outcome"')[1].count(name) == 3
    rows = list(csv.DictReader(io.StringIO(client.get(f"/reports/mdt-outcomes.csv{query}").text)))
    assert [r["decided_at"] for r in rows] == ["meeting", "meeting", "outside_meeting"]
    assert [r["decided_on"] for r in rows] == ["2026-12-03", "2026-12-10", "2026-12-11"]
    assert rows[2]["reason_outside_meeting"] == REASON
    assert rows[2]["deciding_clinicians"] == "Dr Amara Okafor (oncology); Sam Reid (breast CNS)"
    meetings = list(csv.DictReader(io.StringIO(client.get(f"/reports/meetings.csv{query}").text)))
    assert [(m["title"], m["outcomes_confirmed"]) for m in meetings] == [
        ("Secondary breast MDT", "1"),
        ("Secondary breast MDT", "1"),
        ("Decided outside a meeting", "1"),
    ]
    viewed = db.session.scalars(
        select(AuditEventModel).where(AuditEventModel.action == "report.meetings_viewed")
    ).all()
    assert len(viewed) == 4  # the service, the page and the two CSVs


def test_every_outcome_of_three_mdt_reviews_is_in_fhir(three_reviews, actor, auth, client) -> None:
    """Each MDT outcome is its own recommendation, pointing to its task; the one decided outside
    a meeting is marked so, with its reason and the deciding clinicians, and no meeting."""
    patient_id, _, outcome_tasks = three_reviews
    manager = actor(find_user("boss"))
    bundle = patient_bundle(manager, patient_id)
    proposals = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "CarePlan" and e["resource"]["intent"] == "proposal"
    ]
    task_urns = {
        e["resource"]["identifier"][0]["value"]: e["fullUrl"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Task"
    }
    assert [p["supportingInfo"][0]["reference"] for p in proposals] == [
        task_urns[str(task_id)] for task_id in outcome_tasks
    ]
    settings = [
        next(x["valueCode"] for x in p["extension"] if x["url"] == MDT_DECISION_SETTING)
        for p in proposals
    ]
    assert settings == ["meeting", "meeting", "outside-meeting"]
    assert [p["note"][0]["text"] for p in proposals[:2]] == [
        "Confirmed at Secondary breast MDT on 3 December 2026.",
        "Confirmed at Secondary breast MDT on 10 December 2026.",
    ]
    outside = proposals[2]
    assert outside["title"] == "MDT recommendation decided outside a meeting"
    assert outside["note"][0]["text"] == (
        f"Decided outside an MDT meeting on 11 December 2026. Reason: {REASON}"
    )
    assert [c["display"] for c in outside["contributor"]] == [
        "Dr Amara Okafor (oncology)",
        "Sam Reid (breast CNS)",
    ]
    assert "encounter" not in outside  # no meeting to point to
    auth.login("boss")
    response = client.get(f"/api/v1/patients/{patient_id}/fhir")
    assert response.status_code == 200
    exported = [e["resource"] for e in response.json["entry"]]
    assert sum(1 for r in exported if r.get("intent") == "proposal") == 3
