"""Completing tasks over HTTP: forms from JSON Schema, errors kept, the workflow advanced."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, HumanTaskModel, PathwayInstanceModel, TaskStatus
from mdt.services import worklist as worklist_service
from workflows import decode_state

from .conftest import Auth
from .helpers import new_patient, ready_task


@pytest.fixture
def registered(clock, pathway, make_user, actor):
    coordinator = make_user("coordinator", username="coord")
    patient = new_patient(actor(coordinator))
    return patient, coordinator


def test_register_diagnosis_over_http(registered, auth: Auth, client: FlaskClient) -> None:
    patient, coordinator = registered
    task = ready_task(patient.id, "Register secondary diagnosis")
    auth.login("coord")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert True
    assert 'name="index_date-day"' in page and "Liver (C78.7)" in page

    response = auth.post(
        f"/tasks/{task.id}",
        {
            "index_date-day": "3",
            "index_date-month": "11",
            "index_date-year": "2026",
            "sites": ["C78.7", "C79.5"],
            "de_novo": "no",
            "er_status": "positive",
            "pr_status": "negative",
            "her2_status": "low",
            "ecog": "1",
            "in_work": "no",
            "summary": "Liver and bone",
        },
    )

    assert response.status_code == 302
    db.session.expire_all()
    done = db.session.get(HumanTaskModel, task.id)
    assert done.status == TaskStatus.COMPLETED and done.completed_by_id == coordinator.id
    assert done.data["sites"] == ["C78.7", "C79.5"] and done.data["ecog"] == 1
    assert done.data["index_date"] == "2026-11-03" and done.data["de_novo"] is False
    nxt = ready_task(patient.id, "Allocate a CNS key worker")
    assert nxt.due_at is not None and nxt.standards == "IS2"
    instance = db.session.get(PathwayInstanceModel, done.instance_id)
    assert instance.lock_version == 3  # started, then one completion... each save bumps it
    assert '"allocate_key_worker"' in decode_state(instance.state)


def test_invalid_form_is_shown_again_with_errors_and_input(
    registered, auth: Auth, client: FlaskClient
) -> None:
    patient, _ = registered
    task = ready_task(patient.id, "Register secondary diagnosis")
    auth.login("coord")
    response = auth.post(
        f"/tasks/{task.id}",
        {
            "index_date-day": "31",
            "index_date-month": "2",
            "index_date-year": "2026",
            "sites": ["C78.7"],
            "summary": "Kept text",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in page
    assert "Date secondary diagnosis confirmed must be a real date" in page
    assert 'href="#field-index_date-day"' in page
    assert "Kept text" in page and 'value="C78.7" checked' in page
    assert ready_task(patient.id, "Register secondary diagnosis").id == task.id


def test_missing_required_fields_use_plain_words(registered, auth: Auth) -> None:
    patient, _ = registered
    task = ready_task(patient.id, "Register secondary diagnosis")
    auth.login("coord")
    page = auth.post(f"/tasks/{task.id}", {}).get_data(as_text=True)
    assert "Select sites of metastatic disease" in page
    assert "Enter date secondary diagnosis confirmed" in page


def test_completed_task_is_read_only(registered, auth: Auth, client: FlaskClient, actor) -> None:
    from .helpers import complete_with_examples

    patient, coordinator = registered
    task = ready_task(patient.id, "Register secondary diagnosis")
    complete_with_examples(actor(coordinator), task)
    auth.login("coord")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "Completed by" in page and '<form method="post" novalidate>' not in page


def test_second_submission_of_the_same_task_is_a_conflict(registered, auth: Auth, actor) -> None:
    from .helpers import complete_with_examples

    patient, coordinator = registered
    task = ready_task(patient.id, "Register secondary diagnosis")
    auth.login("coord")
    token_page = f"/tasks/{task.id}"
    from .conftest import csrf_token

    token = csrf_token(auth.client, token_page)
    complete_with_examples(actor(coordinator), task)  # someone else got there first
    response = auth.client.post(token_page, data={"csrf_token": token, "ecog": "1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this first" in page and "Your answers were not saved" in page


def test_other_roles_cannot_complete(registered, make_user, auth: Auth) -> None:
    patient, _ = registered
    task = ready_task(patient.id, "Register secondary diagnosis")
    nurse = make_user("palliative")
    auth.login(nurse.username)
    assert auth.client.get(f"/tasks/{task.id}").status_code == 403


def test_worklist_never_deserializes_a_workflow(
    registered, make_user, auth: Auth, client: FlaskClient, monkeypatch
) -> None:
    from workflows import engine as engine_module

    def forbidden(*args, **kwargs):
        raise AssertionError("a worklist must not load workflow state")

    monkeypatch.setattr(engine_module, "load_state", forbidden)
    auth.login("coord")
    page = client.get("/tasks").get_data(as_text=True)
    assert "Register secondary diagnosis" in page and "999 000" in page
    from mdt import clock
    from mdt.services.actor import Actor

    someone = Actor(None, "x", frozenset({"coordinator"}))
    result = worklist_service.worklist(someone, worklist_service.WorklistQuery(), clock.now(), 2)
    assert result.total == 1 and result.counts == {"waiting": 1, "mine": 0, "team": 1}


def test_task_completion_is_audited(registered, actor) -> None:
    from .helpers import complete_with_examples

    patient, coordinator = registered
    complete_with_examples(
        actor(coordinator), ready_task(patient.id, "Register secondary diagnosis")
    )
    actions = db.session.scalars(
        select(AuditEventModel.action).where(AuditEventModel.patient_id == patient.id)
    ).all()
    assert {"patient.registered", "pathway.started", "task.completed"} <= set(actions)


def test_patient_page_shows_open_tasks_and_timeline(registered, auth: Auth, client, actor) -> None:
    from .helpers import complete_with_examples

    patient, coordinator = registered
    complete_with_examples(
        actor(coordinator), ready_task(patient.id, "Register secondary diagnosis")
    )
    auth.login("coord")
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Allocate a CNS key worker" in page and "Register secondary diagnosis" in page
    assert "Coord, " in page and "Date secondary diagnosis confirmed" in page
    viewed = db.session.scalar(
        select(AuditEventModel).where(
            AuditEventModel.action == "patient.viewed", AuditEventModel.patient_id == patient.id
        )
    )
    assert viewed is not None and viewed.actor_id == coordinator.id
    assert json.dumps(viewed.detail) == "null"
