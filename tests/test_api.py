"""The JSON API used as another system would: a personal token, JSON in and out, one error
shape, the same rules and audit as the screens."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, PatientModel
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token

from .conftest import Auth, csrf_token
from .helpers import NHS_NUMBERS
from .scenarios import DIAGNOSIS, resolve


@pytest.fixture
def bearer(make_user: Any) -> Any:
    def headers(*roles: str, username: str | None = None) -> dict[str, str]:
        user = make_user(*roles, username=username)
        _, secret = create_token(SYSTEM, user.id, "tests")
        return {"Authorization": f"Bearer {secret}"}

    return headers


def _register(client: FlaskClient, headers: dict[str, str], index: int = 0) -> dict[str, Any]:
    response = client.post(
        "/api/v1/patients",
        json={"nhs_number": NHS_NUMBERS[index], "given_name": "Ada", "family_name": f"Api{index}",
              "date_of_birth": "1961-02-03", "gp_practice": "Riverside Surgery"},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 201, response.json
    return dict(response.json)


def test_register_complete_and_follow_the_pathway(
    pathway: Any, client: FlaskClient, bearer: Any, clock: Any
) -> None:
    coordinator = bearer("coordinator", username="api-coordinator")
    patient = _register(client, coordinator)
    assert patient["nhs_number"] == NHS_NUMBERS[0] and patient["family_name"] == "Api0"
    spaced = f"{NHS_NUMBERS[0][:3]} {NHS_NUMBERS[0][3:6]} {NHS_NUMBERS[0][6:]}"
    found = client.get("/api/v1/patients", query_string={"nhs_number": spaced}, headers=coordinator)
    assert [p["id"] for p in found.json] == [patient["id"]]

    plan = client.get(f"/api/v1/patients/{patient['id']}/pathway", headers=coordinator).json
    assert plan["status"] == "running" and plan["pathway"] == "secondary-breast-cancer"
    [task] = [t for t in plan["open_tasks"] if t["name"] == "Register secondary diagnosis"]
    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=coordinator).json
    assert "index_date" in detail["form_schema"]["properties"]

    url = f"/api/v1/tasks/{task['id']}/complete"
    bad = client.post(url, json={"data": {**resolve(DIAGNOSIS), "ecog": 9, "index_date": None}},
                      headers=coordinator)  # fmt: skip
    assert bad.status_code == 422
    assert bad.json["error"]["code"] == "invalid" and {"ecog", "index_date"} <= set(
        bad.json["error"]["details"]
    )
    done = client.post(url, json={"data": resolve(DIAGNOSIS)}, headers=coordinator)
    assert done.status_code == 200 and done.json["status"] == "completed"
    again = client.post(url, json={"data": resolve(DIAGNOSIS)}, headers=coordinator)
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    assert (
        "already" in again.json["error"]["message"] or "completed" in again.json["error"]["message"]
    )

    plan = client.get(f"/api/v1/patients/{patient['id']}/pathway", headers=coordinator).json
    assert plan["index_date"] == resolve(DIAGNOSIS)["index_date"]
    assert task["id"] in [t["id"] for t in plan["completed_tasks"]]
    waiting = client.get("/api/v1/tasks", query_string={"role": "coordinator"}, headers=coordinator)
    assert waiting.json["total"] >= 1
    assert all(t["role"] == "coordinator" for t in waiting.json["tasks"])


def test_events_and_their_errors(
    pathway: Any, client: FlaskClient, bearer: Any, clock: Any
) -> None:
    nurse = bearer("coordinator", "cns", username="api-nurse")
    patient = _register(client, nurse)
    url = f"/api/v1/patients/{patient['id']}/events"
    before = {e["name"] for e in client.get(url, headers=nurse).json}
    assert "progression" not in before  # nothing to progress from before the diagnosis
    [task] = client.get(f"/api/v1/patients/{patient['id']}/pathway", headers=nurse).json[
        "open_tasks"
    ]
    registered = client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": resolve(DIAGNOSIS)}, headers=nurse
    )
    assert registered.status_code == 200
    listed = {e["name"]: e for e in client.get(url, headers=nurse).json}
    assert {"progression", "treatment_change", "death", "transfer"} <= set(listed)
    assert "progression_date" in listed["progression"]["form_schema"]["properties"]
    assert listed["death"]["closes"] == "death" and listed["progression"]["episode"]

    wrong = client.post(url, json={"event": "holiday"}, headers=nurse)
    assert wrong.status_code == 422 and "event" in wrong.json["error"]["details"]
    future = client.post(
        url,
        json={"event": "progression", "data": {"progression_date": "2999-01-01"}},
        headers=nurse,
    )
    problems = future.json["error"]["details"]
    assert future.status_code == 422 and "today or in the past" in problems["progression_date"]
    assert {"mdt_question", "fast_track", "ecog"} <= set(problems)  # every problem at once
    died = client.post(
        url,
        json={"event": "death", "data": {"date_of_death": "2026-11-20", "place_of_death": "home"}},
        headers=nurse,
    )
    body = died.json
    assert died.status_code == 201 and body["close_reason"] == "death" and not body["in_care"]
    assert body["closed_at"].startswith("2026-11-20")  # the date of death, not today
    assert sorted(t["name"] for t in body["open_tasks"]) == [
        "Offer bereavement support",
        "Tell the GP and cancel appointments",
    ]
    after = client.post(
        url,
        json={"event": "progression", "data": {"progression_date": "2026-11-21"}},
        headers=nurse,
    )
    assert after.status_code == 409


def test_errors_share_one_shape(pathway: Any, client: FlaskClient, bearer: Any) -> None:
    nurse = bearer("cns")
    for response, status, code in [
        (client.get("/api/v1/patients/999999", headers=nurse), 404, "not_found"),
        (client.get("/api/v1/patients/1"), 401, "unauthorized"),
        (client.get("/api/v1/reports/standards", headers=nurse), 403, "forbidden"),
        (client.get("/api/v1/patients", query_string={"q": ""}, headers=nurse), 422, "invalid"),
        (client.get("/api/v1/nothing-here", headers=nurse), 404, "not_found"),
        (client.get("/api/v1/patients/99999999999", headers=nurse), 404, "not_found"),
        (
            client.post("/api/v1/patients", json={"given_name": "A\u0000"}, headers=nurse),
            400,
            "bad_request",
        ),
    ]:
        assert response.status_code == status
        assert set(response.json) == {"error"}
        assert response.json["error"]["code"] == code
        assert response.json["error"]["message"]
        assert isinstance(response.json["error"]["details"], dict)


def test_session_callers_must_send_the_csrf_token(
    pathway: Any, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    make_user("coordinator", username="browser")
    auth.login("browser")
    body = {"nhs_number": NHS_NUMBERS[1], "given_name": "Jo", "family_name": "Csrf",
            "date_of_birth": "1960-01-01"}  # fmt: skip
    refused = client.post("/api/v1/patients", json=body)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "bad_request"
    token = csrf_token(client, "/notifications")
    accepted = client.post("/api/v1/patients", json=body, headers={"X-CSRFToken": token})
    assert accepted.status_code == 201


def test_meetings_reports_and_pathways(pathway: Any, client: FlaskClient, bearer: Any) -> None:
    from mdt.services.actor import actor_for
    from mdt.services.meetings import create_series, schedule_next
    from mdt.services.users import find_user

    coordinator = bearer("coordinator", username="api-mdt")
    series = create_series(actor_for(find_user("api-mdt")), "Breast MDT", 3, "13:00", "Room 4")
    meeting = schedule_next(actor_for(find_user("api-mdt")), series.id)
    listed = client.get("/api/v1/meetings", headers=coordinator).json
    assert [m["id"] for m in listed] == [meeting.id]
    shown = client.get(f"/api/v1/meetings/{meeting.id}", headers=coordinator).json
    assert shown["status"] == "planned" and shown["listings"] == [] and shown["attendance"] == []

    manager = bearer("manager")
    report = client.get("/api/v1/reports/standards",
                        query_string={"from": "2026-01-01", "to": "2026-06-30"}, headers=manager)  # fmt: skip
    assert report.status_code == 200 and report.json["from"] == "2026-01-01"
    assert {f["code"] for f in report.json["figures"]} >= {"IS1", "TC2", "PC3"}
    backwards = client.get("/api/v1/reports/standards",
                           query_string={"from": "2026-06-30", "to": "2026-01-01"}, headers=manager)  # fmt: skip
    assert backwards.status_code == 422 and "since" in backwards.json["error"]["details"]

    versions = client.get("/api/v1/pathways", headers=manager).json
    assert versions[0]["key"] == "secondary-breast-cancer"
    xml = client.get(f"/api/v1/pathways/{versions[0]['id']}/bpmn", headers=manager)
    assert xml.mimetype == "application/xml" and b"<bpmn:definitions" in xml.data


def test_fhir_over_http_validates(pathway: Any, client: FlaskClient, bearer: Any) -> None:
    from fhir.resources.R4B.bundle import Bundle

    coordinator = bearer("coordinator", username="api-fhir")
    patient = _register(client, coordinator)
    db.session.get_one(PatientModel, patient["id"]).sex = "female"
    db.session.get_one(PatientModel, patient["id"]).mrn = "RX1234"
    db.session.commit()
    response = client.get(f"/api/v1/patients/{patient['id']}/fhir", headers=coordinator)
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    Bundle.model_validate(response.json)
    person = next(
        e["resource"] for e in response.json["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert person["gender"] == "female"
    assert [i["value"] for i in person["identifier"]] == [NHS_NUMBERS[0], "RX1234"]


def test_token_use_and_every_record_read_are_audited(
    pathway: Any, client: FlaskClient, bearer: Any
) -> None:
    coordinator = bearer("coordinator", username="api-audited")
    patient = _register(client, coordinator)
    client.get(f"/api/v1/patients/{patient['id']}", headers=coordinator)
    client.get(f"/api/v1/patients/{patient['id']}/fhir", headers=coordinator)
    client.get("/api/v1/patients/1", headers={"Authorization": "Bearer mdt_not-a-real-token"})
    rows = db.session.scalars(select(AuditEventModel).order_by(AuditEventModel.id)).all()
    actions = [r.action for r in rows]
    # Three calls within a minute: their token's use is one row (tests/test_request_cost.py
    # moves the clock on); every refusal and every read of the record is a row of its own.
    assert actions.count("token.used") == 1 and actions.count("token.refused") == 1
    reads = [r.detail["part"] for r in rows if r.action == "patient.viewed"]
    assert reads == ["details", "fhir"]
    assert all(r.actor_name == "api-audited" for r in rows if r.action == "patient.viewed")


def test_tokens_from_the_command_line_and_the_account_page(
    app: Flask, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    make_user("cns", username="nurse")
    result = app.test_cli_runner().invoke(args=["mdt", "create-token", "nurse", "--name", "EPR"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("mdt_")
    assert (
        client.get("/api/v1/pathways", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )

    auth.login("nurse")
    page = client.get("/account").get_data(as_text=True)
    assert "EPR" in page and secret not in page  # listed, never shown again
    created = auth.post("/account/tokens", {"name": "Dashboard"}, form_url="/account")
    shown = created.get_data(as_text=True)
    fresh = shown.split('id="new-token">')[1].split("<")[0]
    assert fresh.startswith("mdt_") and "it will not be shown again" in shown
    assert (
        client.get("/api/v1/pathways", headers={"Authorization": f"Bearer {fresh}"}).status_code
        == 200
    )
    empty = auth.post("/account/tokens", {"name": " "}, form_url="/account")
    assert empty.status_code == 400 and "There is a problem" in empty.get_data(as_text=True)

    from mdt.models import ApiTokenModel

    token_id = db.session.scalar(select(ApiTokenModel.id).where(ApiTokenModel.name == "EPR"))
    auth.post(f"/account/tokens/{token_id}/revoke", form_url="/account")
    assert (
        client.get("/api/v1/pathways", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )


def test_upload_validate_and_publish_a_pathway(
    pathway: Any, tiny_pathway: Any, client: FlaskClient, bearer: Any
) -> None:
    """A manager uploads a draft (kept even when invalid), sees each problem with its
    element and line, cannot publish it, fixes it and publishes; new patients of that
    pathway start on the new version and the old one is retired."""
    from .conftest import FIXTURES

    manager = bearer("manager")
    tiny = FIXTURES / "tiny"
    forms = [
        {"name": p.name, "content": p.read_text()} for p in sorted((tiny / "forms").glob("*.json"))
    ]
    good = (tiny / "wound_care.bpmn").read_text()
    body = {"key": "wound-care", "title": "Wound care v2",
            "files": [{"name": "wound_care.bpmn", "content": "<not bpmn"}, *forms]}  # fmt: skip
    draft = client.post("/api/v1/pathways", json=body, headers=manager)
    assert draft.status_code == 201 and draft.json["status"] == "draft"
    checked = client.post(f"/api/v1/pathways/{draft.json['id']}/validate", headers=manager).json
    assert checked["valid"] is False
    assert checked["problems"][0]["file"] == "wound_care.bpmn" and checked["problems"][0]["line"]
    refused = client.post(f"/api/v1/pathways/{draft.json['id']}/publish", headers=manager)
    assert refused.status_code == 422 and refused.json["error"]["details"]["problems"]

    body["files"][0]["content"] = good.replace("Wound care", "Wound care (revised)", 1)
    fixed = client.post("/api/v1/pathways", json=body, headers=manager).json
    assert client.post(f"/api/v1/pathways/{fixed['id']}/validate", headers=manager).json == {
        "valid": True, "problems": []}  # fmt: skip
    published = client.post(f"/api/v1/pathways/{fixed['id']}/publish", headers=manager)
    assert published.status_code == 200 and published.json["status"] == "published"
    again = client.post(f"/api/v1/pathways/{fixed['id']}/publish", headers=manager)
    assert again.status_code == 409
    versions = {v["id"]: v["status"] for v in client.get("/api/v1/pathways", headers=manager).json}
    assert versions[tiny_pathway.id] == "retired" and versions[fixed["id"]] == "published"
    assert versions[pathway.id] == "published"  # another pathway is untouched

    from mdt.services.pathways import current_version

    assert current_version("wound-care").id == fixed["id"]
    nurse = bearer("cns")
    assert client.post("/api/v1/pathways", json=body, headers=nurse).status_code == 403
    bad_name = {**body, "files": [{"name": "../etc/passwd.bpmn", "content": good}]}
    named = client.post("/api/v1/pathways", json=bad_name, headers=manager)
    assert named.status_code == 422 and "files" in named.json["error"]["details"]


def test_a_file_that_is_not_text_is_refused_by_name(client: FlaskClient, bearer: Any) -> None:
    manager = bearer("manager")
    raw = '{"key": "odd", "title": "Odd", "files": [{"name": "odd.bpmn", "content": "<a>\\udcff</a>"}]}'
    response = client.post(
        "/api/v1/pathways", data=raw, content_type="application/json", headers=manager
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "odd.bpmn is not valid UTF-8 text" in response.get_data(as_text=True)
