"""Registration on a chosen pathway (screen and API), the configured default, and a patient
on two pathways at once: each with its own instance, worklist rows, record section,
scorecard and FHIR care plan; a second active instance on the same pathway is refused."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, PathwayInstanceModel, PatientModel
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.errors import ConflictError, InvalidInputError, PermissionDeniedError
from mdt.services.pathway_choice import default_pathway_key, start_another_pathway
from mdt.services.pathways import publish_files, read_pathway_directory
from mdt.services.patient_standards import patient_scorecard

from .conftest import ROOT, Auth
from .helpers import NHS_NUMBERS, complete_with_examples, new_patient, ready_task
from .scenarios import Day

FORM = {
    "given_name": "Ada",
    "family_name": "Chooser",
    "date_of_birth-day": "3",
    "date_of_birth-month": "2",
    "date_of_birth-year": "1961",
}


def _instances(patient_id: int) -> list[PathwayInstanceModel]:
    return list(
        db.session.scalars(
            select(PathwayInstanceModel)
            .where(PathwayInstanceModel.patient_id == patient_id)
            .order_by(PathwayInstanceModel.id)
        )
    )


def _keys(patient_id: int) -> list[str]:
    return [i.pathway_version.key for i in _instances(patient_id)]


def _registered(nhs: str) -> PatientModel:
    patient = db.session.scalar(select(PatientModel).where(PatientModel.nhs_number == nhs))
    assert patient is not None
    return patient


def test_one_published_pathway_is_started_without_a_choice(
    pathway: Any, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    make_user("coordinator", username="coord")
    auth.login("coord")
    page = client.get("/patients/new").get_data(as_text=True)
    assert 'name="pathway_key"' not in page
    assert "Registering starts the Secondary breast cancer for this patient" in page
    response = auth.post("/patients/new", {**FORM, "nhs_number": NHS_NUMBERS[0]})
    assert response.status_code == 302
    assert _keys(_registered(NHS_NUMBERS[0]).id) == ["secondary-breast-cancer"]


def test_the_screen_offers_every_published_pathway_with_the_default_chosen(
    pathway: Any, tiny_pathway: Any, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    make_user("coordinator", username="coord")
    auth.login("coord")
    page = client.get("/patients/new").get_data(as_text=True)
    options = re.findall(r'name="pathway_key" type="radio" value="([^"]+)"( checked)?', page)
    assert options == [("secondary-breast-cancer", " checked"), ("wound-care", "")]
    response = auth.post(
        "/patients/new", {**FORM, "nhs_number": NHS_NUMBERS[1], "pathway_key": "wound-care"}
    )
    assert response.status_code == 302
    patient = _registered(NHS_NUMBERS[1])
    assert _keys(patient.id) == ["wound-care"]
    started = db.session.scalar(
        select(AuditEventModel).where(
            AuditEventModel.action == "pathway.started", AuditEventModel.patient_id == patient.id
        )
    )
    assert started is not None and started.detail["pathway"] == "wound-care"


def test_an_unknown_pathway_is_an_error_with_the_others_on_the_screen(
    pathway: Any, tiny_pathway: Any, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    make_user("coordinator", username="coord")
    auth.login("coord")
    response = auth.post(
        "/patients/new",
        {**FORM, "nhs_number": NHS_NUMBERS[2], "given_name": "", "pathway_key": "nonsense"},
        form_url="/patients/new",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter the patient&#39;s first name" in page
    assert "There is no published pathway &#39;nonsense&#39; to start" in page
    assert db.session.scalar(select(PatientModel)) is None


def test_the_default_is_a_setting(
    pathway: Any, tiny_pathway: Any, app: Flask, make_user: Any, actor: Any
) -> None:
    coordinator = actor(make_user("coordinator"))
    assert default_pathway_key() == "secondary-breast-cancer"
    app.config["MDT_DEFAULT_PATHWAY"] = "wound-care"
    try:
        assert default_pathway_key() == "wound-care"
        patient = new_patient(coordinator, 3)
        assert _keys(patient.id) == ["wound-care"]
        app.config["MDT_DEFAULT_PATHWAY"] = "not-published"
        # Several published and the default is none of them: staff must choose.
        assert default_pathway_key() is None
        with pytest.raises(InvalidInputError) as refused:
            new_patient(coordinator, 4)
        assert refused.value.errors == {"pathway_key": "Select the pathway to start"}
    finally:
        app.config["MDT_DEFAULT_PATHWAY"] = "secondary-breast-cancer"


@pytest.fixture
def bearer(make_user: Any) -> Any:
    user = make_user("coordinator", username="api-coordinator")
    return {"Authorization": f"Bearer {create_token(SYSTEM, user.id, 'tests')[1]}"}


def _api_register(client: FlaskClient, headers: Any, index: int, **extra: Any) -> Any:
    """The response of a registration by the API (its ``json`` read as Any)."""
    return client.post(
        "/api/v1/patients",
        json={"nhs_number": NHS_NUMBERS[index], "given_name": "Ada", "family_name": f"Api{index}",
              "date_of_birth": "1961-02-03", **extra},
        headers=headers,
    )  # fmt: skip


def test_the_api_registers_on_the_chosen_pathway_or_the_default(
    pathway: Any, tiny_pathway: Any, client: FlaskClient, bearer: Any
) -> None:
    chosen = _api_register(client, bearer, 5, pathway_key="wound-care")
    assert chosen.status_code == 201, chosen.json
    assert _keys(chosen.json["id"]) == ["wound-care"]
    default = _api_register(client, bearer, 6)
    assert default.status_code == 201 and _keys(default.json["id"]) == ["secondary-breast-cancer"]
    plan: Any = client.get(f"/api/v1/patients/{chosen.json['id']}/pathway", headers=bearer).json
    assert plan["pathway"] == "wound-care"


@pytest.mark.parametrize("key", ["nonsense", "wound-care"])
def test_the_api_refuses_an_unknown_or_unpublished_pathway(
    pathway: Any, client: FlaskClient, bearer: Any, key: str
) -> None:
    """wound-care is not published in this test: the same refusal as a key never heard of."""
    response = _api_register(client, bearer, 7, pathway_key=key)
    assert response.status_code == 422
    body = response.json["error"]
    assert body["code"] == "invalid"
    assert f"There is no published pathway '{key}' to start" in body["details"]["pathway_key"]
    assert "secondary-breast-cancer" in body["details"]["pathway_key"]
    assert db.session.scalar(select(PatientModel)) is None


def test_the_openapi_spec_documents_pathway_key(client: FlaskClient) -> None:
    spec: Any = client.get("/api/v1/openapi.json").json
    schema = spec["components"]["schemas"]["NewPatient"]["properties"]["pathway_key"]
    assert "unpublished key is 422" in schema["description"]


# -- a patient on two pathways ------------------------------------------------------------

EXAMPLE = ROOT / "bpmn" / "examples" / "lymphoedema"
CLINIC = "lymphoedema-clinic"


@pytest.fixture
def clinic() -> Any:
    return publish_files(SYSTEM, CLINIC, "Lymphoedema clinic", *read_pathway_directory(EXAMPLE))


def _on_both(coordinator: Any) -> PatientModel:
    patient = new_patient(coordinator, 0)  # the default: secondary breast cancer
    start_another_pathway(coordinator, patient.id, CLINIC)
    return patient


def test_a_second_pathway_is_started_beside_the_first_and_audited(
    pathway: Any, clinic: Any, make_user: Any, actor: Any
) -> None:
    coordinator = actor(make_user("coordinator"))
    patient = _on_both(coordinator)
    assert _keys(patient.id) == ["secondary-breast-cancer", CLINIC]
    added = db.session.scalar(
        select(AuditEventModel).where(AuditEventModel.action == "pathway.added")
    )
    assert added is not None and added.patient_id == patient.id
    assert added.detail == {"pathway": CLINIC} and added.actor_id == coordinator.user_id
    # Each its own tasks: the first task of each pathway is ready, on its own instance.
    first, clinic_instance = _instances(patient.id)
    assert ready_task(patient.id, "Register secondary diagnosis").instance_id == first.id
    referral = ready_task(patient.id, "Register the lymphoedema referral")
    assert referral.instance_id == clinic_instance.id


def test_a_second_active_instance_on_the_same_pathway_is_refused(
    pathway: Any, clinic: Any, make_user: Any, actor: Any
) -> None:
    coordinator = actor(make_user("coordinator"))
    patient = _on_both(coordinator)
    for key in ("secondary-breast-cancer", CLINIC):
        with pytest.raises(ConflictError, match=r"is already on the .* pathway"):
            start_another_pathway(coordinator, patient.id, key)
    assert len(_instances(patient.id)) == 2
    with pytest.raises(InvalidInputError) as unknown:
        start_another_pathway(coordinator, patient.id, "nonsense")
    assert "There is no published pathway 'nonsense'" in unknown.value.errors["pathway_key"]
    with pytest.raises(PermissionDeniedError):
        start_another_pathway(actor(make_user("cns")), patient.id, CLINIC)


def test_after_care_on_a_pathway_ended_it_can_be_started_again(
    pathway: Any, clinic: Any, make_user: Any, actor: Any
) -> None:
    from mdt.services.instances import close_pathway

    coordinator = actor(make_user("coordinator"))
    patient = _on_both(coordinator)
    clinic_instance = _instances(patient.id)[1]
    close_pathway(coordinator, clinic_instance.id, "discharge", {"date": "2026-11-20"})
    start_another_pathway(coordinator, patient.id, CLINIC)
    assert _keys(patient.id) == ["secondary-breast-cancer", CLINIC, CLINIC]


def test_the_record_screen_starts_another_pathway_and_shows_one_section_each(
    pathway: Any, clinic: Any, make_user: Any, actor: Any, auth: Auth, client: FlaskClient
) -> None:
    coordinator = actor(make_user("coordinator", username="coord"))
    patient = new_patient(coordinator, 0)
    auth.login("coord")
    record = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Start another pathway" in record and "app-pathway-section" not in record
    url = f"/patients/{patient.id}/pathways/new"
    page = client.get(url).get_data(as_text=True)
    assert re.findall(r'name="pathway_key" type="radio" value="([^"]+)"', page) == [CLINIC]
    assert auth.post(url, {"pathway_key": CLINIC}).status_code == 302
    again = auth.post(url, {"pathway_key": CLINIC})
    assert again.status_code == 409 and "is already on the Lymphoedema clinic" in again.get_data(
        as_text=True
    )
    record = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    sections = re.findall(r'<section class="app-pathway-section" data-pathway="([^"]+)"', record)
    assert sections == [CLINIC, "secondary-breast-cancer"]
    clinic_part, main_part = record.split('data-pathway="secondary-breast-cancer"')
    assert "Register the lymphoedema referral" in clinic_part
    assert "Register secondary diagnosis" not in clinic_part
    assert "Register secondary diagnosis" in main_part
    assert "Register the lymphoedema referral" not in main_part


def test_a_clinician_cannot_start_another_pathway(
    pathway: Any, clinic: Any, make_user: Any, actor: Any, auth: Auth, client: FlaskClient
) -> None:
    make_user("cns", username="nurse")
    patient = new_patient(actor(make_user("coordinator")), 0)
    auth.login("nurse")
    assert "Start another pathway" not in client.get(f"/patients/{patient.id}").get_data(
        as_text=True
    )
    assert client.get(f"/patients/{patient.id}/pathways/new").status_code == 403


def test_worklists_scorecards_and_fhir_are_per_pathway(
    pathway: Any, clinic: Any, make_user: Any, actor: Any, auth: Auth, client: FlaskClient
) -> None:
    coordinator = actor(make_user("coordinator", username="coord"))
    patient = _on_both(coordinator)
    main, clinic_instance = _instances(patient.id)
    complete_with_examples(
        coordinator,
        ready_task(patient.id, "Register the lymphoedema referral"),
        referral_date=Day(0),
    )
    allocate = ready_task(patient.id, "Allocate a lymphoedema therapist")
    register = ready_task(patient.id, "Register secondary diagnosis")
    auth.login("coord")

    def rows(**args: str) -> set[int]:
        page = client.get("/tasks", query_string=args).get_data(as_text=True)
        return {int(i) for i in re.findall(r'href="/tasks/(\d+)"', page)}

    assert 'name="pathway"' in client.get("/tasks").get_data(as_text=True)
    assert {allocate.id, register.id} <= rows()
    assert allocate.id in rows(pathway=CLINIC) and register.id not in rows(pathway=CLINIC)
    on_main = rows(pathway="secondary-breast-cancer")
    assert register.id in on_main and allocate.id not in on_main

    complete_with_examples(coordinator, register, index_date=Day(-1))
    clinic_cards = patient_scorecard(patient.id, clinic_instance.id)
    clinic_measures = {row.measure.key for card in clinic_cards for row in card.rows}
    assert clinic_measures == {"ly_therapist", "ly_assessment"}
    main_measures = {
        row.measure.key for card in patient_scorecard(patient.id, main.id) for row in card.rows
    }
    assert main_measures and not main_measures & clinic_measures
    record = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    clinic_part, main_part = record.split('data-pathway="secondary-breast-cancer"')
    assert 'data-measure="ly_assessment"' in clinic_part
    assert 'data-measure="ly_assessment"' not in main_part
    assert 'data-measure="is2_key_worker"' in main_part

    token = create_token(SYSTEM, coordinator.user_id, "tests")[1]
    bundle = client.get(
        f"/api/v1/patients/{patient.id}/fhir", headers={"Authorization": f"Bearer {token}"}
    )
    resources = [entry["resource"] for entry in json.loads(bundle.get_data())["entry"]]
    plans = {r["title"]: r for r in resources if r["resourceType"] == "CarePlan"}
    assert len(plans) == 2 and "Lymphoedema clinic" in plans
    tasks = [r for r in resources if r["resourceType"] == "Task"]
    referral = next(t for t in tasks if "lymphoedema referral" in json.dumps(t))
    plan_id = {r["title"]: e["fullUrl"] for e in json.loads(bundle.get_data())["entry"]
               for r in [e["resource"]] if r["resourceType"] == "CarePlan"}  # fmt: skip
    assert referral["basedOn"] == [{"reference": plan_id["Lymphoedema clinic"]}]


def test_the_api_starts_another_pathway_and_reads_each(
    pathway: Any, clinic: Any, client: FlaskClient, bearer: Any
) -> None:
    patient_id = _api_register(client, bearer, 8).json["id"]
    url = f"/api/v1/patients/{patient_id}/pathways"
    response = client.post(url, json={"pathway_key": CLINIC}, headers=bearer)
    started: Any = response.json
    assert response.status_code == 201, started
    assert started["pathway"] == CLINIC
    assert [t["name"] for t in started["open_tasks"]] == ["Register the lymphoedema referral"]
    again = client.post(url, json={"pathway_key": CLINIC}, headers=bearer)
    assert again.status_code == 409 and "already on" in (again.json or {})["error"]["message"]
    unknown = client.post(url, json={"pathway_key": "nonsense"}, headers=bearer)
    assert unknown.status_code == 422 and "pathway_key" in (unknown.json or {})["error"]["details"]
    read: Any = {
        key: client.get(
            f"/api/v1/patients/{patient_id}/pathway",
            query_string={"pathway_key": key},
            headers=bearer,
        ).json
        for key in (CLINIC, "secondary-breast-cancer")
    }
    assert read[CLINIC]["instance_id"] == started["instance_id"]
    assert read["secondary-breast-cancer"]["pathway"] == "secondary-breast-cancer"
    assert read["secondary-breast-cancer"]["instance_id"] != started["instance_id"]
    # Without a key: the default pathway's, where events are recorded (not the newest).
    plain: Any = client.get(f"/api/v1/patients/{patient_id}/pathway", headers=bearer).json
    assert plain["instance_id"] == read["secondary-breast-cancer"]["instance_id"]


def test_events_are_recorded_on_the_default_pathway_when_on_several(
    pathway: Any, clinic: Any, make_user: Any, actor: Any
) -> None:
    """A progression, a death: the main pathway's events stay reachable after a second
    pathway was started later (the newest is not the one they belong to)."""
    from mdt.services.patient_events import available_events, running_instance

    coordinator = actor(make_user("coordinator"))
    patient = _on_both(coordinator)
    main = _instances(patient.id)[0]
    assert running_instance(patient.id) == main
    complete_with_examples(
        coordinator, ready_task(patient.id, "Register secondary diagnosis"), index_date=Day(-1)
    )
    names = {event.name for event in available_events(coordinator, patient.id)}
    assert "progression" in names


def test_a_discharge_from_the_second_pathway_closes_only_that_one(
    pathway: Any, clinic: Any, make_user: Any, actor: Any, auth: Auth, client: FlaskClient
) -> None:
    from mdt.services.patient_events import _leaves_lists, available_events

    coordinator = actor(make_user("coordinator", username="coord"))
    patient = _on_both(coordinator)
    main, clinic_instance = _instances(patient.id)
    on_clinic = {e.name for e in available_events(coordinator, patient.id, CLINIC)}
    assert on_clinic == {"death", "discharge", "transfer"}  # the clinic declares no events
    auth.login("coord")
    record = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert f"/patients/{patient.id}/events/new?pathway={CLINIC}" in record
    url = f"/patients/{patient.id}/events/new"
    answers = {"event": "discharge", "pathway": CLINIC, "date-day": "20", "date-month": "11",
               "date-year": "2026"}  # fmt: skip
    preview = auth.post(url, answers, form_url=f"{url}?pathway={CLINIC}&event=discharge")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and f'name="pathway" value="{CLINIC}"' in page
    assert "Register the lymphoedema referral" in page  # the clinic's task is cancelled
    assert "Register secondary diagnosis" not in page  # the main pathway's is not
    done = auth.post(url, {**answers, "confirm": "yes"}, form_url=f"{url}?pathway={CLINIC}")
    assert done.status_code == 302
    db.session.expire_all()
    assert clinic_instance.close_reason == "discharge" and main.in_care
    # Care goes on on the main pathway: a discharge from the clinic leaves the MDT lists be.
    assert not _leaves_lists(clinic_instance, "discharge")
    assert _leaves_lists(clinic_instance, "death")
    assert _leaves_lists(main, "discharge")  # nothing else in care: off the lists
