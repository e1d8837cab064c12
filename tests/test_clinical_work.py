"""Clinicians' work: worklist views, claiming, drafts, registering, events, record, care plan."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, HumanTaskModel, PatientModel
from mdt.services.assignments import claim_task, reassign_task, release_task
from mdt.services.errors import ConflictError, InvalidInputError, PermissionDeniedError

from .conftest import Auth
from .helpers import NHS_NUMBERS, complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS, HIGH_NEEDS


@pytest.fixture
def team(pathway, make_user, actor):
    users = {
        "coord": make_user("coordinator", username="coord"),
        "nurse": make_user("cns", username="nurse"),
        "nurse2": make_user("cns", username="nurse2"),
        "onc": make_user("oncologist", username="onc"),
        "pall": make_user("palliative", username="pall"),
    }
    patient = new_patient(actor(users["coord"]), given="Ada", family="Lovelace")
    complete_with_examples(
        actor(users["coord"]), ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    complete_with_examples(
        actor(users["coord"]),
        ready_task(patient.id, "Allocate a CNS key worker"),
        key_worker_name="Nurse",
        key_worker_phone="0113 000 0000",
    )
    return users, patient


def test_claim_release_and_reassign(team, actor) -> None:
    users, patient = team
    task = ready_task(patient.id, "First contact with key worker")
    claim_task(actor(users["nurse"]), task.id)
    with pytest.raises(ConflictError, match="already doing"):
        claim_task(actor(users["nurse2"]), task.id)
    with pytest.raises(PermissionDeniedError):
        release_task(actor(users["nurse2"]), task.id)
    with pytest.raises(PermissionDeniedError):
        reassign_task(actor(users["nurse"]), task.id, users["nurse2"].id)
    with pytest.raises(InvalidInputError, match="does not hold the role"):
        reassign_task(actor(users["coord"]), task.id, users["onc"].id)
    reassign_task(actor(users["coord"]), task.id, users["nurse2"].id)
    assert db.session.get(HumanTaskModel, task.id).assigned_to_id == users["nurse2"].id
    release_task(actor(users["coord"]), task.id)
    assert db.session.get(HumanTaskModel, task.id).assigned_to_id is None
    actions = set(db.session.scalars(select(AuditEventModel.action)))
    assert {"task.claimed", "task.reassigned", "task.released"} <= actions


def test_worklist_views_and_filters(team, auth: Auth, client: FlaskClient, actor) -> None:
    users, patient = team
    task = ready_task(patient.id, "First contact with key worker")
    claim_task(actor(users["nurse2"]), task.id)
    auth.login("nurse")
    waiting = client.get("/tasks").get_data(as_text=True)
    assert "First contact with key worker" not in waiting  # with a colleague now
    team_view = client.get("/tasks?view=team").get_data(as_text=True)
    assert "First contact with key worker" in team_view and "with Nurse2" in team_view
    assert "My team&#39;s tasks (1)" in team_view
    assert "No tasks match" in client.get("/tasks?view=team&due=overdue").get_data(as_text=True)


def test_palliative_user_cannot_open_or_complete_a_cns_task(team, auth: Auth) -> None:
    _, patient = team
    task = ready_task(patient.id, "First contact with key worker")
    auth.login("pall")
    assert auth.client.get(f"/tasks/{task.id}").status_code == 403


def test_coordinator_can_reassign_but_not_complete_a_clinical_form(
    team, auth: Auth, client: FlaskClient
) -> None:
    users, patient = team
    task = ready_task(patient.id, "First contact with key worker")
    auth.login("coord")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "Reassign" in page and "Complete task" not in page
    response = auth.post(f"/tasks/{task.id}", {"contact_method": "phone"})
    assert response.status_code == 403
    moved = auth.post(
        f"/tasks/{task.id}/assignment",
        {"action": "reassign", "user_id": str(users["nurse2"].id)},
        form_url=f"/tasks/{task.id}",
    )
    assert moved.status_code == 302
    assert db.session.get(HumanTaskModel, task.id).assigned_to_id == users["nurse2"].id


def test_draft_is_kept_and_shown_again(team, auth: Auth, client: FlaskClient) -> None:
    _, patient = team
    task = ready_task(patient.id, "First contact with key worker")
    auth.login("nurse")
    response = auth.post(
        f"/tasks/{task.id}", {"action": "draft", "notes": "Rang twice", "contact_method": "phone"}
    )
    assert response.status_code == 302
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "Rang twice" in page and 'value="phone" checked' in page and "Draft saved" in page
    assert db.session.get(HumanTaskModel, task.id).status == "ready"


def test_declined_assessment_needs_no_scores(team, auth: Auth, client: FlaskClient, actor) -> None:
    users, patient = team
    complete_with_examples(
        actor(users["nurse"]), ready_task(patient.id, "First contact with key worker")
    )
    task = ready_task(patient.id, "Holistic needs assessment")
    auth.login("nurse")
    response = auth.post(
        f"/tasks/{task.id}",
        {
            "trigger": "diagnosis",
            "offer": "02",
            "assessment_date-day": "20",
            "assessment_date-month": "11",
            "assessment_date-year": "2026",
            "distress": "9",
        },
    )
    assert response.status_code == 302
    done = db.session.get(HumanTaskModel, task.id)
    assert "distress" not in done.data  # hidden by the declined offer, so not kept
    accepted = ready_task(patient.id, "List for MDT review")
    assert accepted  # no referral tasks for a declined assessment
    names = {
        t.name
        for t in db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.patient_id == patient.id, HumanTaskModel.status == "ready"
            )
        )
    }
    assert "Refer for psychological and peer support" not in names


def test_register_patient_checks_nhs_number_and_duplicates(team, auth: Auth) -> None:
    _, patient = team
    auth.login("coord")
    bad = auth.post(
        "/patients/new",
        {
            "nhs_number": "943 476 5918",
            "given_name": "A",
            "family_name": "B",
            "date_of_birth-day": "1",
            "date_of_birth-month": "2",
            "date_of_birth-year": "1960",
        },
    )
    assert bad.status_code == 400 and "check digit" in bad.get_data(as_text=True)
    duplicate = auth.post(
        "/patients/new",
        {
            "nhs_number": f"{NHS_NUMBERS[0][:3]}-{NHS_NUMBERS[0][3:6]}-{NHS_NUMBERS[0][6:]}",
            "given_name": "A",
            "family_name": "B",
            "date_of_birth-day": "1",
            "date_of_birth-month": "2",
            "date_of_birth-year": "1960",
        },
        form_url="/patients/new",
    )
    page = duplicate.get_data(as_text=True)
    assert duplicate.status_code == 409 and f"/patients/{patient.id}" in page
    good = auth.post(
        "/patients/new",
        {
            "nhs_number": "9434765919",
            "given_name": "Grace",
            "family_name": "Hopper",
            "date_of_birth-day": "9",
            "date_of_birth-month": "12",
            "date_of_birth-year": "1956",
            "gp_practice": "Park Lane",
        },
        form_url="/patients/new",
    )
    assert good.status_code == 302
    created = db.session.scalar(select(PatientModel).where(PatientModel.nhs_number == "9434765919"))
    assert ready_task(created.id, "Register secondary diagnosis").role == "coordinator"


def test_test_range_refused_when_the_setting_says_so(team, app, auth: Auth) -> None:
    app.config["MDT_ALLOW_TEST_NHS_NUMBERS"] = False
    try:
        auth.login("coord")
        response = auth.post(
            "/patients/new",
            {
                "nhs_number": NHS_NUMBERS[5],
                "given_name": "A",
                "family_name": "B",
                "date_of_birth-day": "1",
                "date_of_birth-month": "2",
                "date_of_birth-year": "1960",
            },
        )
        assert response.status_code == 400 and "test numbers" in response.get_data(as_text=True)
    finally:
        app.config["MDT_ALLOW_TEST_NHS_NUMBERS"] = True


def test_progression_event_reaches_the_right_worklists(
    team, auth: Auth, client: FlaskClient
) -> None:
    _, patient = team
    auth.login("onc")
    response = auth.post(
        f"/patients/{patient.id}/events/new",
        {
            "kind": "progression",
            "date-day": "20",
            "date-month": "11",
            "date-year": "2026",
            "sites": ["C78.7"],
            "notes": "New liver lesions",
        },
    )
    assert response.status_code == 302
    names = [
        t.name
        for t in db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.patient_id == patient.id,
                HumanTaskModel.status == "ready",
                HumanTaskModel.role == "cns",
            )
        )
    ]
    assert names.count("Holistic needs assessment") == 1
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Disease progression" in page and "New liver lesions" in page


def test_event_form_errors_are_explained(team, auth: Auth) -> None:
    _, patient = team
    auth.login("nurse")
    response = auth.post(f"/patients/{patient.id}/events/new", {"kind": "transfer"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter the date it happened" in page and "Enter where care is transferred to" in page


def test_death_closes_the_pathway(team, auth: Auth, client: FlaskClient) -> None:
    _, patient = team
    auth.login("nurse")
    response = auth.post(
        f"/patients/{patient.id}/events/new",
        {"kind": "death", "date-day": "21", "date-month": "11", "date-year": "2026"},
    )
    assert response.status_code == 302
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Pathway closed: death" in page and "No open tasks." in page
    assert "Record an event" not in page


def test_record_shows_summary_scorecard_and_diagram_state(
    team, auth: Auth, client: FlaskClient
) -> None:
    _, patient = team
    auth.login("nurse")
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Liver (C78.7), Bone and bone marrow (C79.5)" in page
    assert "Nurse, 0113 000 0000" in page  # banner: key worker from the allocation task
    assert (
        'data-completed="allocate_key_worker prepare_record register_diagnosis"' in page
        or 'data-completed="allocate_key_worker register_diagnosis"' in page
    )
    assert 'data-current="cns_first_contact diagnosis_mdt mdt_referral"' in page
    assert page.count('nhsuk-tag--green">Met') == 1  # IS2 only


def test_care_plan_page_and_pdf(team, auth: Auth, client: FlaskClient, actor) -> None:
    users, patient = team
    complete_with_examples(
        actor(users["nurse"]), ready_task(patient.id, "First contact with key worker")
    )
    complete_with_examples(
        actor(users["nurse"]), ready_task(patient.id, "Holistic needs assessment"), **HIGH_NEEDS
    )
    complete_with_examples(
        actor(users["nurse"]),
        ready_task(patient.id, "Refer for psychological and peer support"),
        referred="referred",
        services=["peer_support"],
    )
    auth.login("nurse")
    page = client.get(f"/patients/{patient.id}/care-plan").get_data(as_text=True)
    assert "Nurse is your key worker" in page and "Peer support" in page
    response = client.get(f"/patients/{patient.id}/care-plan.pdf")
    assert response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "Your care plan: Ada Lovelace" in text and "0113 000 0000" in text
    assert "Peer support" in text
    assert (
        db.session.scalar(
            select(AuditEventModel).where(AuditEventModel.action == "careplan.downloaded")
        )
        is not None
    )


def test_counts_are_capped_for_huge_backlogs() -> None:
    from mdt.services.worklist import COUNT_CAP, WorklistPage, WorklistQuery

    page = WorklistPage([], COUNT_CAP + 1, {}, WorklistQuery(page_size=50))
    assert page.shown(COUNT_CAP + 1) == "1,000+" and page.shown(12) == "12"
    assert page.pages == COUNT_CAP // 50
