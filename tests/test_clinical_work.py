"""Clinicians' work: worklist views, claiming, drafts, registering, events, record, care plan."""

from __future__ import annotations

import io
import re

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from mdt.extensions import db
from mdt.models import AuditEventModel, HumanTaskModel, PatientModel
from mdt.services.assignments import claim_task, reassign_task, release_task
from mdt.services.errors import ConflictError, InvalidInputError, PermissionDeniedError

from .conftest import Auth
from .helpers import NHS_NUMBERS, complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS, HIGH_NEEDS


@pytest.fixture
def team(clock, pathway, make_user, actor):
    """Tuesday 24 November 2026: a patient registered (diagnosis confirmed 10 November) with
    a key worker allocated; every other track open."""
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
    open_for_nurses = db.session.scalar(
        select(func.count())
        .select_from(HumanTaskModel)
        .where(HumanTaskModel.status == "ready", HumanTaskModel.role == "cns")
    )
    assert f"My team&#39;s tasks ({open_for_nurses})" in team_view
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


def test_declined_assessment_needs_no_scores(team, auth: Auth, client: FlaskClient) -> None:
    """Scores typed before choosing "declined" are not kept, and the page says so."""
    _, patient = team
    task = ready_task(patient.id, "Holistic needs assessment")
    auth.login("nurse")
    response = auth.post(
        f"/tasks/{task.id}",
        {
            "offer": "02",
            "assessment_date-day": "20",
            "assessment_date-month": "11",
            "assessment_date-year": "2026",
            "palliative_information_given": "yes",
            "distress": "9",
        },
    )
    assert response.status_code == 302
    done = db.session.get(HumanTaskModel, task.id)
    assert "distress" not in done.data  # hidden by the declined offer, so not kept
    page = client.get(response.location).get_data(as_text=True)
    assert "Not kept, because your other answers meant they were not asked: Distress" in page
    names = {
        t.name
        for t in db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.patient_id == patient.id, HumanTaskModel.status == "ready"
            )
        )
    }
    assert "Refer for psychological and peer support" not in names
    assert "List for MDT review" in names  # nothing else waits for the assessment


def test_revealed_questions_sit_under_their_answer(team, auth: Auth, client: FlaskClient) -> None:
    """The NHS.UK conditional reveal: the domain scores are asked under "Offered and
    accepted", the re-offer date after any answer that is not yes."""
    _, patient = team
    task = ready_task(patient.id, "Holistic needs assessment")
    auth.login("nurse")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    accepted = page.index('value="01"')
    declined = page.index('value="02"')
    assert accepted < page.index('name="distress"') < declined  # inside the first answer
    assert 'data-reveal-field="offer" data-reveal-values="02 03 04 05"' in page
    assert "Distress thermometer (optional)" not in page  # required when it is asked


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
    chooser = client.get(f"/patients/{patient.id}/events/new").get_data(as_text=True)
    assert "Disease progression" in chooser and "Death" in chooser
    response = auth.post(
        f"/patients/{patient.id}/events/new?event=progression",
        {
            "event": "progression",
            "progression_date-day": "20",
            "progression_date-month": "11",
            "progression_date-year": "2026",
            "confirmed_by": "imaging",
            "new_sites": ["C79.3"],
            "receptors_retested": "no",
            "ecog": "1",
            "fast_track": "yes",
            "mdt_question": "Brain metastases: radiotherapy?",
            "imaging_for_review": "yes",
            "notes": "New headaches",
        },
        form_url=f"/patients/{patient.id}/events/new?event=progression",
    )
    assert response.status_code == 302
    ready = list(
        db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.patient_id == patient.id, HumanTaskModel.status == "ready"
            )
        )
    )
    names = [t.name for t in ready]
    assert names.count("Holistic needs assessment") == 2  # diagnosis's, and the new one
    [outcome] = [t for t in ready if t.name == "Record MDT outcome"]  # listed at once
    assert outcome.context["mdt_referral"]["urgency"] == "fast_track"
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Disease progression" in page and "New headaches" in page
    assert "Liver (C78.7), Bone and bone marrow (C79.5), Brain (C79.3)" in page  # every site


def test_event_form_errors_are_explained(team, auth: Auth) -> None:
    _, patient = team
    auth.login("nurse")
    url = f"/patients/{patient.id}/events/new?event=transfer"
    response = auth.post(url, {"event": "transfer"}, form_url=url)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter date of transfer" in page and "Enter receiving organisation" in page
    future = auth.post(
        url,
        {"event": "transfer", "transfer_date-day": "1", "transfer_date-month": "1",
         "transfer_date-year": "2099", "receiving_organisation": "St Elsewhere"},
        form_url=url,
    )  # fmt: skip
    assert "Date of transfer must be today or in the past" in future.get_data(as_text=True)
    assert 'value="St Elsewhere"' in future.get_data(as_text=True)  # nothing typed is lost


def test_death_closes_the_pathway(team, auth: Auth, client: FlaskClient) -> None:
    _, patient = team
    auth.login("nurse")
    url = f"/patients/{patient.id}/events/new?event=death"
    form = client.get(url).get_data(as_text=True)
    assert "This ends care on the pathway" in form
    response = auth.post(
        url,
        {"event": "death", "date_of_death-day": "21", "date_of_death-month": "11",
         "date_of_death-year": "2026", "place_of_death": "hospice",
         "next_of_kin_name": "Sam Lovelace", "confirm": "yes"},
        form_url=url,
    )  # fmt: skip  # confirm: as the confirmation page's button (tests/test_closing_events.py)
    assert response.status_code == 302
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Died 21 November 2026" in page and "Care ended: death on 21 November 2026" in page
    assert "Offer bereavement support" in page and "Tell the GP and cancel appointments" in page
    assert "First contact with key worker" not in page.split("Open tasks")[1].split("</table>")[0]
    assert "Record an event" not in page


def test_record_shows_summary_scorecard_and_diagram_state(
    team, auth: Auth, client: FlaskClient
) -> None:
    _, patient = team
    auth.login("nurse")
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Liver (C78.7), Bone and bone marrow (C79.5)" in page
    assert "Nurse, 0113 000 0000" in page  # banner: key worker from the allocation task
    current = page.split('data-current="')[1].split('"')[0].split()
    assert {"cns_first_contact", "diagnosis_mdt", "mdt_referral", "diagnosis_hna"} <= set(current)
    statuses = dict(re.findall(r'data-measure="([a-z0-9_]+)" data-status="([a-z_]+)"', page))
    # Only the key worker is allocated yet, today: 14 days after the diagnosis, 7 late.
    assert statuses.pop("is2_key_worker") == "met_late"
    assert set(statuses.values()) <= {"pending", "overdue", "not_applicable"}


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
        outcome="accepted",
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
