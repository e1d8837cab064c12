"""Publishing runs synthetic patients through the pathway first: errors refuse it, each named
with its element and the path that reached it; warnings need the manager's confirmation.
The same report through the API and as `flask mdt test-pathway DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token

from .conftest import FIXTURES

TINY = FIXTURES / "tiny"
GOOD = (TINY / "wound_care.bpmn").read_text()
START = "Start: a patient of 80"
SEVERE = "Assess the wound (size_cm=50)"  # the answer that takes the Severe branch

# Each bad draft: what to change in the wound care pathway, and what the test run says.
BAD = {
    "a task nobody can complete": (
        ("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>", ""),  # out of the Oncologist lane
        "no_role",
        "review",
        [START, SEVERE],
    ),
    "a print script": (
        ('<bpmn:script>severity = "high"', '<bpmn:script>print("scoring")\nseverity = "high"'),
        "run_error",
        "score",
        [START, "Assess the wound"],
    ),
    "a condition on data nothing sets": (
        ('severity == "high"</bpmn', 'severity == "high" and wound_depth &gt; 2</bpmn'),
        "unset_data",
        "f_high",
        [START, "Assess the wound"],
    ),
    "an element nothing leads to": (
        (
            '<bpmn:endEvent id="done"',
            '<bpmn:task id="photo" name="Photograph the wound" /><bpmn:endEvent id="done"',
        ),
        "unreachable",
        "photo",
        [],
    ),
}


@pytest.fixture
def bearer(make_user: Any) -> Any:
    def headers(*roles: str) -> dict[str, str]:
        user = make_user(*roles)
        _, secret = create_token(SYSTEM, user.id, "tests")
        return {"Authorization": f"Bearer {secret}"}

    return headers


def _forms() -> list[dict[str, str]]:
    return [{"name": p.name, "content": p.read_text()} for p in sorted(TINY.glob("forms/*.json"))]


def _upload(client: FlaskClient, headers: dict[str, str], bpmn: str) -> int:
    body = {
        "key": "wound-care",
        "title": "Wound care",
        "files": [{"name": "wound_care.bpmn", "content": bpmn}, *_forms()],
    }
    draft = client.post("/api/v1/pathways", json=body, headers=headers)
    assert draft.status_code == 201, draft.json
    return int(draft.json["id"])


@pytest.mark.parametrize("case", BAD)
def test_the_test_run_refuses_a_bad_draft_naming_the_element_and_its_path(
    tiny_pathway: Any, client: FlaskClient, bearer: Any, case: str
) -> None:
    (old, new), kind, element, path = BAD[case]
    assert old in GOOD
    manager = bearer("manager")
    draft = _upload(client, manager, GOOD.replace(old, new, 1))

    refused = client.post(f"/api/v1/pathways/{draft}/publish", headers=manager)
    assert refused.status_code == 422
    details = refused.json["error"]["details"]
    found = [p for p in details["problems"] if p["kind"] == kind]
    assert found, details["problems"]
    problem = found[0]
    assert (problem["element_id"], problem["severity"], problem["path"]) == (element, "error", path)
    assert problem["file"] == "wound_care.bpmn"
    assert details["needs_confirmation"] is False
    assert element in details["test_run"]["failed"]["wound_care.bpmn"]
    # Confirming warnings does not publish a draft with errors.
    again = client.post(
        f"/api/v1/pathways/{draft}/publish", json={"confirm_warnings": True}, headers=manager
    )
    assert again.status_code == 422

    # The same report on its own, without publishing.
    report = client.post(f"/api/v1/pathways/{draft}/test-run", headers=manager)
    assert report.status_code == 200 and report.json["passed"] is False
    assert any(p["kind"] == kind and p["path"] == path for p in report.json["problems"])


def test_what_the_checks_refuse_is_also_shown_with_the_path_of_a_patient_it_stops(
    tiny_pathway: Any, client: FlaskClient, bearer: Any
) -> None:
    (old, new), *_ = BAD["a task nobody can complete"]
    manager = bearer("manager")
    draft = _upload(client, manager, GOOD.replace(old, new, 1))
    problems = client.post(f"/api/v1/pathways/{draft}/test-run", headers=manager).json["problems"]
    kinds = {p["kind"]: p for p in problems if p["element_id"] == "review"}
    assert "does not map to a known role" in kinds["invalid"]["message"]  # at upload
    assert kinds["no_role"]["path"] == [START, SEVERE]  # and where it stops a patient


def test_warnings_need_the_managers_confirmation(
    tiny_pathway: Any, client: FlaskClient, bearer: Any
) -> None:
    manager = bearer("manager")
    never = GOOD.replace('severity == "high"', 'severity == "extreme"', 1)
    draft = _upload(client, manager, never)

    refused = client.post(f"/api/v1/pathways/{draft}/publish", headers=manager)
    assert refused.status_code == 422
    details = refused.json["error"]["details"]
    assert details["needs_confirmation"] is True
    [warning] = [p for p in details["problems"] if p["severity"] == "warning"]
    assert warning["element_id"] == "f_high" and warning["kind"] == "not_reached"
    assert warning["path"] == [START, "Assess the wound"]  # to the gateway it is a branch of
    assert "review" not in details["test_run"]["reached"]["wound_care.bpmn"]
    assert details["test_run"]["coverage"] == {
        "user_tasks_reached": 1,
        "user_tasks": 2,
        "branches_taken": 1,
        "branches": 2,
    }

    published = client.post(
        f"/api/v1/pathways/{draft}/publish", json={"confirm_warnings": True}, headers=manager
    )
    assert published.status_code == 200 and published.json["status"] == "published"
    event = db.session.scalars(
        select(AuditEventModel)
        .where(AuditEventModel.action == "pathway.published")
        .order_by(AuditEventModel.id)  # PostgreSQL returns rows in no set order without it
    ).all()[-1]
    assert "No test patient took this branch" in event.detail["test_run"]["warnings"][0]


def test_a_clean_draft_publishes_with_its_test_run_in_the_audit_trail(
    tiny_pathway: Any, client: FlaskClient, bearer: Any
) -> None:
    manager = bearer("manager")
    draft = _upload(client, manager, GOOD.replace("Wound care review", "Wound care v2", 1))
    report = client.post(f"/api/v1/pathways/{draft}/test-run", headers=manager).json
    assert report["passed"] and report["errors"] == report["warnings"] == 0 and report["complete"]
    assert report["coverage"]["user_tasks_reached"] == report["coverage"]["user_tasks"] == 2
    assert {"assess", "review", "f_high", "f_low"} <= set(report["reached"]["wound_care.bpmn"])
    assert report["failed"] == {}
    published = client.post(f"/api/v1/pathways/{draft}/publish", headers=manager)
    assert published.status_code == 200
    event = db.session.scalars(
        select(AuditEventModel)
        .where(AuditEventModel.action == "pathway.published")
        .order_by(AuditEventModel.id)  # PostgreSQL returns rows in no set order without it
    ).all()[-1]
    assert event.detail["test_run"]["coverage"] == (
        "2 of 2 user tasks reached, 2 of 2 gateway branches taken"
    )
    nurse = bearer("cns")
    assert client.post(f"/api/v1/pathways/{draft}/test-run", headers=nurse).status_code == 403


def _pathway_dir(tmp_path: Path, bpmn: str) -> Path:
    (tmp_path / "forms").mkdir()
    for form in TINY.glob("forms/*.json"):
        (tmp_path / "forms" / form.name).write_bytes(form.read_bytes())
    (tmp_path / "wound_care.bpmn").write_text(bpmn)
    return tmp_path


def test_flask_mdt_test_pathway_prints_the_report_and_fails_on_errors(
    app: Flask, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    good = runner.invoke(args=["mdt", "test-pathway", str(TINY)])
    assert good.exit_code == 0, good.output
    assert "2 of 2 user tasks reached, 2 of 2 gateway branches taken" in good.output
    assert "0 error(s), 0 warning(s): it can be published." in good.output

    (old, new), *_ = BAD["a condition on data nothing sets"]
    bad = runner.invoke(
        args=["mdt", "test-pathway", str(_pathway_dir(tmp_path, GOOD.replace(old, new, 1)))]
    )
    assert bad.exit_code == 1
    assert "ERROR: wound_care.bpmn, line" in bad.output and "'wound_depth'" in bad.output
    assert f"reached by: {START} > {SEVERE}" in bad.output  # where it fails when it runs
    assert "it cannot be published" in bad.output


def test_load_pathway_refuses_what_the_test_run_refuses(
    app: Flask, tmp_path: Path, tiny_pathway: Any
) -> None:
    never = GOOD.replace('severity == "high"', 'severity == "extreme"', 1)
    directory = _pathway_dir(tmp_path, never)
    runner = app.test_cli_runner()
    args = ["mdt", "load-pathway", str(directory), "--key", "wound-care", "--title", "Wound"]
    refused = runner.invoke(args=args)
    assert refused.exit_code == 1
    assert "WARNING: wound_care.bpmn" in refused.output and "--confirm-warnings" in refused.output
    confirmed = runner.invoke(args=[*args, "--confirm-warnings"])
    assert confirmed.exit_code == 0, confirmed.output
    assert "wound-care version 2 is published." in confirmed.output


def test_a_test_run_that_fails_itself_is_a_warning_not_a_server_error(
    tiny_pathway: Any, client: FlaskClient, bearer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mdt.services.pathway_trials as trials

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a fault in the test run")

    monkeypatch.setattr(trials, "run_trial", broken)
    manager = bearer("manager")
    draft = _upload(client, manager, GOOD.replace("Wound care review", "Wound care v3", 1))
    report = client.post(f"/api/v1/pathways/{draft}/test-run", headers=manager)
    assert report.status_code == 200 and report.json["passed"] is True
    [warning] = report.json["problems"]
    assert warning["severity"] == "warning" and "could not be finished" in warning["message"]
    refused = client.post(f"/api/v1/pathways/{draft}/publish", headers=manager)
    assert refused.status_code == 422 and refused.json["error"]["details"]["needs_confirmation"]
