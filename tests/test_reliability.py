"""Reliability: two people completing one task at the same moment; the database going away."""

from __future__ import annotations

import re
import threading
from datetime import date

from flask import Flask
from sqlalchemy import func, select

from mdt import create_app
from mdt.extensions import db
from mdt.models import AuditEventModel, HumanTaskModel, PathwayInstanceModel, TaskStatus
from mdt.services.pathways import engine_for
from mdt.services.patients import register_patient
from mdt.testing import FreshContextClient

from .conftest import PASSWORD
from .helpers import NHS_NUMBERS, ready_task

TRIALS = 100
FORM = {
    "index_date-day": "2",
    "index_date-month": "11",
    "index_date-year": "2026",
    "sites": ["C78.7"],
    "de_novo": "no",
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "ecog": "1",
    "in_work": "no",
}


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _signed_in(app: Flask, username: str) -> tuple[FreshContextClient, str]:
    client = app.test_client()
    token = _token(client.get("/sign-in").get_data(as_text=True))
    client.post("/sign-in", data={"username": username, "password": PASSWORD, "csrf_token": token})
    return client, _token(client.get("/tasks").get_data(as_text=True))


def _race(people: list[tuple[FreshContextClient, str]], task_id: int) -> list[int]:
    barrier = threading.Barrier(len(people))
    statuses: list[int] = []

    def complete(client: FreshContextClient, token: str) -> None:
        barrier.wait()
        response = client.post(f"/tasks/{task_id}", data={**FORM, "csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=complete, args=person) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)


def _coherent(task_id: int) -> None:
    task = db.session.get(HumanTaskModel, task_id)
    assert task.status == TaskStatus.COMPLETED
    completions = db.session.scalar(
        select(func.count(AuditEventModel.id)).where(
            AuditEventModel.action == "task.completed", AuditEventModel.object_id == str(task_id)
        )
    )
    assert completions == 1
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    run = engine_for(instance.pathway_version).restore(instance.state)  # not corrupt
    rows = set(
        db.session.scalars(
            select(HumanTaskModel.name).where(
                HumanTaskModel.instance_id == instance.id, HumanTaskModel.status == "ready"
            )
        )
    )
    assert {t.name for t in run.ready_tasks()} == rows
    assert "Allocate a CNS key worker" in rows and "Register secondary diagnosis" not in rows


def test_two_users_completing_the_same_task_exactly_one_wins(
    app: Flask, pathway, make_user, actor
) -> None:
    coordinator = actor(make_user("coordinator", username="coord-a"))
    make_user("coordinator", username="coord-b")
    people = [_signed_in(app, "coord-a"), _signed_in(app, "coord-b")]
    for trial in range(TRIALS):
        patient = register_patient(
            coordinator, NHS_NUMBERS[trial], "Trial", f"Race{trial}", date(1960, 1, 1), "Surgery"
        )
        task_id = ready_task(patient.id, "Register secondary diagnosis").id
        db.session.remove()
        statuses = _race(people, task_id)
        # One succeeds; the other is told someone else got there first (409), never a 500.
        assert statuses == [302, 409], (trial, statuses)
        _coherent(task_id)
        db.session.remove()


def test_database_unavailable_gives_a_clear_503_page(app: Flask) -> None:
    broken = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t" * 40,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
        }
    )
    broken.test_client_class = FreshContextClient
    client = broken.test_client()
    token = _token(client.get("/sign-in").get_data(as_text=True))  # needs no database
    response = client.post(
        "/sign-in", data={"username": "someone", "password": "x" * 12, "csrf_token": token}
    )
    assert response.status_code == 503
    assert "The database cannot be reached. Nothing was saved." in response.get_data(as_text=True)
