"""Decision tables through the services and the web: stored as the pathway's files (kind
"dmn"), versioned and published with it, run for patients (in the engine workers too),
uploaded and refused with the file and line, edited and added in the decision table editor
under the draft's conflict rule."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, PathwayVersionModel
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.instances import complete_task
from mdt.services.pathway_drafts import open_draft, publish_version
from mdt.services.pathways import engine_for, version_files
from workflows.isolation import IsolatedEngine, stop_pools

from .conftest import Auth
from .decision_pathway import KEY, TABLE, decision_files, publish_decision_pathway, severity_table
from .helpers import new_patient, ready_task, ready_tasks, start_on

REVIEW = "Review severe wound"


def _patient_with_wound(actor: Any, size: int, index: int = 0) -> Any:
    patient = new_patient(actor, index, start=False)
    start_on(actor, patient, KEY)
    complete_task(
        actor, ready_task(patient.id, "Assess the wound").id, {"size_cm": size, "infected": False}
    )
    return patient


def test_a_published_pathway_keeps_its_table_as_a_file_and_patients_take_its_route(
    make_user: Any, actor: Any
) -> None:
    version = publish_decision_pathway()
    stored = {f.name: f.kind for f in version.files}
    assert stored[TABLE] == "dmn" and stored["wound_care.bpmn"] == "bpmn"
    assert TABLE in version_files(version)[0]  # compiled with the diagrams
    nurse = actor(make_user("cns", "coordinator", "oncologist"))
    large = _patient_with_wound(nurse, 6, 0)
    small = _patient_with_wound(nurse, 2, 1)
    assert ready_task(large.id, REVIEW)
    assert [t.name for t in ready_tasks(small.id)] == []


@pytest.fixture
def isolated(app: Flask) -> Iterator[None]:
    saved = {key: app.config[key] for key in app.config if key.startswith("MDT_ENGINE_")}
    app.config.update(MDT_ENGINE_ISOLATION=True, MDT_ENGINE_WORKERS=1)
    yield
    app.config.update(saved)
    stop_pools()


def test_the_engine_workers_compile_and_run_the_decision_tables(
    isolated: None, make_user: Any, actor: Any
) -> None:
    version = publish_decision_pathway(threshold=3)
    assert isinstance(engine_for(version), IsolatedEngine)
    nurse = actor(make_user("cns", "coordinator", "oncologist"))
    patient = _patient_with_wound(nurse, 4)  # 4 is severe by this version's table (3 or more)
    assert ready_task(patient.id, REVIEW)


def test_a_changed_threshold_is_a_new_version_and_new_patients_follow_it(
    make_user: Any, actor: Any
) -> None:
    first = publish_decision_pathway(threshold=5)
    second = publish_decision_pathway(threshold=3)
    assert second.version == first.version + 1 and second.sha256 != first.sha256
    assert publish_decision_pathway(threshold=3).id == second.id  # same files: same version
    nurse = actor(make_user("cns", "coordinator", "oncologist"))
    assert ready_task(_patient_with_wound(nurse, 4).id, REVIEW)


@pytest.fixture
def bearer(make_user: Any) -> Any:
    user = make_user("manager")
    _, secret = create_token(SYSTEM, user.id, "tests")
    return {"Authorization": f"Bearer {secret}"}


def _upload(client: FlaskClient, headers: dict[str, str], table: bytes) -> Any:
    bpmn, forms = decision_files()
    bpmn[TABLE] = table
    files = [{"name": n, "content": c.decode()} for n, c in {**bpmn, **forms}.items()]
    body = {"key": "uploaded-decisions", "title": "Uploaded", "files": files}
    draft = client.post("/api/v1/pathways", json=body, headers=headers)
    assert draft.status_code == 201, draft.json
    return client.post(f"/api/v1/pathways/{draft.json['id']}/validate", headers=headers).json


def test_an_uploaded_table_is_validated_with_the_file_line_and_rule(
    client: FlaskClient, bearer: dict[str, str]
) -> None:
    assert _upload(client, bearer, severity_table())["valid"] is True
    escaping = severity_table().replace(b'"high"', b"().__class__.__subclasses__()")
    result = _upload(client, bearer, escaping)
    [problem] = result["problems"]
    assert (problem["file"], problem["element_id"]) == (TABLE, "large")
    assert (
        problem["line"]
        == escaping.decode().splitlines().index('        <outputEntry id="large_severity">') + 1
    )
    assert "not an allowed expression" in problem["message"]
    bomb = b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "e">]>\n<definitions/>'
    problems = _upload(client, bearer, bomb)["problems"]
    [problem] = [p for p in problems if p["file"] == TABLE]
    assert problem["line"] == 2 and "DOCTYPE" in problem["message"]
    # ... and the business rule task that calls it is told its decision is missing.
    assert any(p["element_id"] == "score" and "wound_severity" in p["message"] for p in problems)


# -- the decision table editor ---------------------------------------------------------------


@pytest.fixture
def manager(make_user: Any, auth: Auth) -> Any:
    user = make_user("manager", username="rules-manager")
    auth.login("rules-manager")
    return user


def _draft(actor: Any, user: Any) -> PathwayVersionModel:
    return open_draft(actor(user), publish_decision_pathway().id)


def test_the_editor_opens_a_drafts_table_and_saves_a_changed_threshold(
    manager: Any, make_user: Any, actor: Any, auth: Auth, client: FlaskClient
) -> None:
    draft = _draft(actor, manager)
    url = f"/pathways/{draft.id}/decision-tables/{TABLE}"
    listing = client.get(f"/pathways/{draft.id}/decision-tables").get_data(as_text=True)
    assert f"Edit {TABLE}" in listing
    page = client.get(url).get_data(as_text=True)
    assert "dmn-modeler.production.min.js" in page and "&amp;gt;= 5" in page  # the XML, escaped
    saved = auth.post(url, {"xml": severity_table(3).decode(), "expected_sha256": draft.sha256})
    assert saved.status_code == 302
    db.session.expire_all()
    draft = db.session.get(PathwayVersionModel, draft.id)
    content = next(f.content for f in draft.files if f.name == TABLE)
    assert content == severity_table(3)
    stored = next(f for f in draft.files if f.name == TABLE)
    assert stored.kind == "dmn" and stored.sha256 == hashlib.sha256(content).hexdigest()
    saves = db.session.scalars(
        select(AuditEventModel).where(
            AuditEventModel.action == "pathway.draft_saved",
            AuditEventModel.object_id == str(draft.id),
        )
    ).all()
    assert len(saves) == 2  # the draft made, then the table saved into it

    # Published, the new threshold decides for new patients.
    publish_version(actor(manager), draft.id)
    nurse = actor(make_user("cns", "coordinator", "oncologist"))
    assert ready_task(_patient_with_wound(nurse, 4).id, REVIEW)  # 3 or more now


def test_a_save_from_a_stale_page_is_refused_and_nothing_is_overwritten(
    manager: Any, actor: Any, auth: Auth, client: FlaskClient
) -> None:
    draft = _draft(actor, manager)
    url = f"/pathways/{draft.id}/decision-tables/{TABLE}"
    stale = draft.sha256
    assert (
        auth.post(url, {"xml": severity_table(4).decode(), "expected_sha256": stale}).status_code
        == 302
    )
    refused = auth.post(url, {"xml": severity_table(9).decode(), "expected_sha256": stale})
    assert refused.status_code == 409
    assert "Someone else saved this draft first" in refused.get_data(as_text=True)
    db.session.expire_all()
    content = next(
        f.content for f in db.session.get(PathwayVersionModel, draft.id).files if f.name == TABLE
    )
    assert content == severity_table(4)


def test_a_saved_table_with_problems_is_kept_and_its_problems_shown_with_lines(
    manager: Any, actor: Any, auth: Auth, client: FlaskClient
) -> None:
    draft = _draft(actor, manager)
    url = f"/pathways/{draft.id}/decision-tables/{TABLE}"
    broken = severity_table().replace(b'"high"', b"assessment[")
    assert (
        auth.post(url, {"xml": broken.decode(), "expected_sha256": draft.sha256}).status_code == 302
    )
    page = client.get(url).get_data(as_text=True)
    assert "This table stops the draft being published" in page
    line = broken.decode().splitlines().index('        <outputEntry id="large_severity">') + 1
    assert f"Line {line}, rule large" in page


def test_a_manager_adds_a_decision_table_to_a_draft(
    manager: Any, actor: Any, auth: Auth, client: FlaskClient
) -> None:
    draft = _draft(actor, manager)
    listing = f"/pathways/{draft.id}/decision-tables"
    bad = auth.post(
        listing, {"decision_id": "Bad Id", "title": "", "expected_sha256": draft.sha256}
    )
    assert bad.status_code == 400
    assert "There is a problem" in bad.get_data(as_text=True)
    taken = auth.post(
        listing,
        {"decision_id": "wound_severity", "title": "Again", "expected_sha256": draft.sha256},
    )
    assert taken.status_code == 400 and "already has wound_severity" in taken.get_data(as_text=True)
    added = auth.post(
        listing,
        {"decision_id": "dressing_choice", "title": "Dressing", "expected_sha256": draft.sha256},
    )
    assert added.status_code == 302 and added.location.endswith(
        "/decision-tables/dressing_choice.dmn"
    )
    db.session.expire_all()
    draft = db.session.get(PathwayVersionModel, draft.id)
    assert {f.name: f.kind for f in draft.files}["dressing_choice.dmn"] == "dmn"
    page = client.get(added.location).get_data(as_text=True)
    assert "This table stops the draft being published" not in page  # a starter table passes


def test_only_managers_edit_decision_tables(
    make_user: Any, actor: Any, auth: Auth, client: FlaskClient
) -> None:
    boss = make_user("manager")
    draft = _draft(actor, boss)
    make_user("cns", username="nurse-no-rules")
    auth.login("nurse-no-rules")
    assert client.get(f"/pathways/{draft.id}/decision-tables/{TABLE}").status_code == 403
