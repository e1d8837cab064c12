"""The fixed cost of a request (issue 25), counted in statements, never timed.

One API completion is one transaction: one COMMIT, the token's bookkeeping inside it (at most
once a minute), nothing read again after the commit to build the answer, and the answer says
which tasks are now waiting for the caller. The standards projection is derived only when a
save changed something it reads, and always agrees with a derivation from scratch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select

from mdt import clock as mdt_clock
from mdt.extensions import db
from mdt.models import (
    ApiTokenModel,
    AuditEventModel,
    HumanTaskModel,
    PathwayInstanceModel,
    ReportCaseModel,
    SessionModel,
    UserModel,
)
from mdt.services.actor import SYSTEM, actor_for
from mdt.services.api_tokens import create_token, user_for_token
from mdt.services.audit import record_event
from mdt.services.demo import example_answers
from mdt.services.next_tasks import ready_for
from mdt.services.pathways import form_schema
from mdt.services.report_cases import _facts_for, _settings, derive, tasks_read
from mdt.services.request_writes import settle

from .conftest import Auth, csrf_token
from .helpers import DECIDED_OUTSIDE, NHS_NUMBERS
from .scenarios import DIAGNOSIS, resolve


class Statements:
    """The SQL one request sent, in order, and how many COMMITs."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.commits = 0
        self.checkouts = 0

    def after_commit(self) -> list[str]:
        return self.sql[self.sql.index("COMMIT") + 1 :]

    def reading(self, table: str) -> list[str]:
        return [s for s in self.sql if s.startswith("SELECT") and f" FROM {table}" in s]


@contextmanager
def counted() -> Iterator[Statements]:
    seen = Statements()

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.sql.append(" ".join(sql.split()))

    def commit(conn: Any) -> None:
        seen.commits += 1
        seen.sql.append("COMMIT")

    def checkout(*args: Any) -> None:
        seen.checkouts += 1

    engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    event.listen(engine.pool, "checkout", checkout)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
        event.remove(engine.pool, "checkout", checkout)


@pytest.fixture
def bearer(make_user: Any) -> Any:
    def headers(*roles: str, username: str | None = None) -> dict[str, str]:
        user = make_user(*roles, username=username)
        _, secret = create_token(SYSTEM, user.id, "tests")
        return {"Authorization": f"Bearer {secret}"}

    return headers


def _register(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/patients",
        json={"nhs_number": NHS_NUMBERS[0], "given_name": "Ada", "family_name": "Cost",
              "date_of_birth": "1961-02-03", "gp_practice": "Riverside Surgery"},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 201, response.json
    return dict(response.json)


def _first_task(client: FlaskClient, headers: dict[str, str], patient_id: int) -> dict[str, Any]:
    plan = client.get(f"/api/v1/patients/{patient_id}/pathway", headers=headers).json
    [task] = [t for t in plan["open_tasks"] if t["name"] == "Register secondary diagnosis"]
    return dict(task)


def _uses() -> list[AuditEventModel]:
    return list(
        db.session.scalars(
            select(AuditEventModel)
            .where(AuditEventModel.action == "token.used")
            .order_by(AuditEventModel.id)
        )
    )


def test_an_api_completion_commits_once_and_reads_nothing_again(
    pathway: Any, client: FlaskClient, bearer: Any, clock: Any
) -> None:
    coordinator = bearer("coordinator", username="api-cost")
    patient = _register(client, coordinator)
    task = _first_task(client, coordinator, patient["id"])
    clock.tick(timedelta(minutes=5))  # the token's use is due to be recorded again
    with counted() as seen:
        done = client.post(
            f"/api/v1/tasks/{task['id']}/complete",
            json={"data": resolve(DIAGNOSIS)},
            headers=coordinator,
        )
    assert done.status_code == 200, done.json
    # The token's bookkeeping, the task, the pathway, the projections and the audit row: one
    # transaction, one COMMIT.
    assert seen.commits == 1
    assert any(s.startswith("UPDATE api_token SET last_used_at") for s in seen.sql)
    assert sum(s.startswith("INSERT INTO audit_event") for s in seen.sql) == 2
    # Nothing is read after the commit to build the answer (not the user, their roles, the
    # task, its instance or version again), the tasks now waiting included: one connection.
    assert seen.after_commit() == []
    assert seen.checkouts == 1


def test_two_calls_within_a_minute_write_one_token_used_row(
    pathway: Any, client: FlaskClient, bearer: Any, clock: Any
) -> None:
    headers = bearer("coordinator", username="api-poller")
    with counted() as first:
        assert client.get("/api/v1/pathways", headers=headers).status_code == 200
    token = db.session.scalar(select(ApiTokenModel))
    assert token is not None and token.last_used_at is not None
    used_at = token.last_used_at
    clock.tick(timedelta(seconds=59))
    with counted() as second:
        assert client.get("/api/v1/pathways", headers=headers).status_code == 200
    assert len(_uses()) == 1
    assert not any("api_token SET" in s or "INTO audit_event" in s for s in second.sql)
    assert second.commits == 0  # a read within the minute writes nothing at all
    assert first.commits == 1  # the first read's bookkeeping, in one small transaction
    db.session.expire_all()
    assert db.session.get_one(ApiTokenModel, token.id).last_used_at == used_at

    clock.tick(timedelta(seconds=2))  # a minute and a second after the first call
    assert client.get("/api/v1/pathways", headers=headers).status_code == 200
    uses = _uses()
    assert len(uses) == 2 and uses[1].actor_name == "api-poller"
    db.session.expire_all()
    assert db.session.get_one(ApiTokenModel, token.id).last_used_at == mdt_clock.now()


def test_a_refused_or_failed_call_still_records_the_tokens_use(
    pathway: Any, client: FlaskClient, bearer: Any, clock: Any
) -> None:
    """A call whose transaction is rolled back (a conflict) or never commits (invalid
    answers) still leaves its token's use on record: written when the request ends."""
    coordinator = bearer("coordinator", username="api-failing")
    patient = _register(client, coordinator)
    task = _first_task(client, coordinator, patient["id"])
    url = f"/api/v1/tasks/{task['id']}/complete"
    assert (
        client.post(url, json={"data": resolve(DIAGNOSIS)}, headers=coordinator).status_code == 200
    )
    before = len(_uses())

    clock.tick(timedelta(minutes=2))
    invalid = client.post(url, json={"data": {"ecog": 9}}, headers=coordinator)
    assert invalid.status_code in (409, 422)
    assert len(_uses()) == before + 1

    clock.tick(timedelta(minutes=2))
    again = client.post(url, json={"data": resolve(DIAGNOSIS)}, headers=coordinator)
    assert again.status_code == 409
    assert len(_uses()) == before + 2
    # Nothing of the refused completions was kept with the bookkeeping.
    completed = db.session.scalars(
        select(AuditEventModel).where(AuditEventModel.action == "task.completed")
    ).all()
    assert len(completed) == 1


def test_a_use_rolled_back_with_a_failed_use_case_is_still_recorded(
    app: Any, make_user: Any
) -> None:
    """A use case that fails part-way rolls back, then commits its failure record: the
    token's use is written with that commit, once; the end of the request adds nothing."""
    user = make_user("coordinator", username="api-rolled-back")
    _, secret = create_token(SYSTEM, user.id, "tests")
    with app.test_request_context("/api/v1/pathways"):
        assert user_for_token(secret, "192.0.2.1") is not None
        db.session.rollback()  # the use case failed
        assert _uses() == []
        record_event(SYSTEM, "pathway.error", detail={"error": "a test"})
        db.session.commit()  # its failure record, in a transaction of its own
        [use] = _uses()
        settle()  # the request ends
    assert _uses() == [use]
    assert use.actor_name == "api-rolled-back" and use.ip_address == "192.0.2.1"


def test_a_session_is_touched_once_a_minute_without_a_commit_of_its_own(
    pathway: Any, client: FlaskClient, auth: Auth, make_user: Any, clock: Any
) -> None:
    make_user("coordinator", username="web-cost")
    auth.login("web-cost")
    record = db.session.scalar(select(SessionModel))
    assert record is not None
    token = csrf_token(client, "/account")
    headers = {"X-CSRFToken": token}
    patient = _register(client, headers)
    task = _first_task(client, headers, patient["id"])
    clock.tick(timedelta(minutes=3))
    with counted() as seen:
        done = client.post(
            f"/api/v1/tasks/{task['id']}/complete",
            json={"data": resolve(DIAGNOSIS)},
            headers=headers,
        )
    assert done.status_code == 200, done.json
    assert seen.commits == 1  # the touch rode on the completion's commit
    assert any(s.startswith("UPDATE user_session SET last_seen_at") for s in seen.sql)
    db.session.expire_all()
    assert db.session.get_one(SessionModel, record.id).last_seen_at == mdt_clock.now()

    clock.tick(timedelta(seconds=30))
    with counted() as again:
        assert client.get("/account").status_code == 200
    assert not any("user_session SET" in s for s in again.sql)


def _stored(instance_id: int) -> list[tuple[Any, ...]]:
    columns = [c.name for c in ReportCaseModel.__table__.columns if c.name != "id"]
    rows = db.session.execute(
        select(*(ReportCaseModel.__table__.c[c] for c in columns)).where(
            ReportCaseModel.instance_id == instance_id
        )
    ).all()
    return sorted((tuple(r) for r in rows), key=repr)


def _from_scratch(instance_id: int) -> list[tuple[Any, ...]]:
    columns = [c.name for c in ReportCaseModel.__table__.columns if c.name != "id"]
    instance = db.session.get_one(PathwayInstanceModel, instance_id)
    [facts] = _facts_for([instance], _settings())
    return sorted((tuple(row.get(c) for c in columns) for row in derive(facts)), key=repr)


def test_walking_a_pathway_with_next_tasks_keeps_the_cases_true(
    pathway: Any, client: FlaskClient, bearer: Any, clock: Any
) -> None:
    """Walk the pathway through the API as a client would, taking each next task from the
    completion's answer: after every save the stored cases equal a derivation from scratch,
    and saves that touch nothing a measure reads do not read the cases at all."""
    everyone = bearer("coordinator", "cns", "oncologist", "palliative", username="api-walker")
    patient = _register(client, everyone)
    waiting = [_first_task(client, everyone, patient["id"])]
    instance_id = db.session.get_one(HumanTaskModel, waiting[0]["id"]).instance_id
    version = db.session.get_one(PathwayInstanceModel, instance_id).pathway_version
    read = tasks_read(version)
    derived = skipped = 0
    for _ in range(14):
        if not waiting:
            break
        task = db.session.get_one(HumanTaskModel, waiting[0]["id"])
        schema = form_schema(version, task.form) or {}
        first = task.name == "Register secondary diagnosis"
        body: dict[str, Any] = {"data": resolve(DIAGNOSIS) if first else example_answers(schema)}
        if client.get(f"/api/v1/tasks/{task.id}", headers=everyone).json[
            "outside_meeting_required"
        ]:
            body["outside_meeting"] = {
                "reason": DECIDED_OUTSIDE.reason,
                "clinicians": [
                    {"name": c.name, "discipline": c.discipline} for c in DECIDED_OUTSIDE.clinicians
                ],
            }
        clock.tick(timedelta(hours=1))
        with counted() as seen:
            done = client.post(f"/api/v1/tasks/{task.id}/complete", json=body, headers=everyone)
        assert done.status_code == 200, done.json
        db.session.expire_all()
        assert _stored(instance_id) == _from_scratch(instance_id), task.name
        new = {t["bpmn_id"] for t in done.json["next_tasks"]} - {t["bpmn_id"] for t in waiting}
        if seen.reading("report_case"):
            derived += 1
        else:
            skipped += 1
            # Skipped only when neither the task done nor any task it made ready is read.
            assert task.bpmn_id not in read and not (new & read), task.name
        waiting = done.json["next_tasks"]
    assert derived and skipped, (derived, skipped)


def test_the_completion_names_the_tasks_now_waiting_for_the_caller(
    pathway: Any, client: FlaskClient, bearer: Any, make_user: Any
) -> None:
    coordinator = bearer("coordinator", username="api-next")
    patient = _register(client, coordinator)
    task = _first_task(client, coordinator, patient["id"])
    done = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": resolve(DIAGNOSIS)},
        headers=coordinator,
    )
    assert done.status_code == 200 and done.json["status"] == "completed"
    listed = done.json["next_tasks"]
    ready = db.session.scalars(
        select(HumanTaskModel).where(
            HumanTaskModel.patient_id == patient["id"], HumanTaskModel.status == "ready"
        )
    ).all()
    # Exactly the patient's ready tasks for the coordinator's role, none for other roles...
    assert {t["id"] for t in listed} == {t.id for t in ready if t.role == "coordinator"}
    assert any(t.role != "coordinator" for t in ready), "the pathway gave other roles work"
    # ...the same the coordinator's worklist holds for this patient.
    page = client.get("/api/v1/tasks", query_string={"page_size": 200}, headers=coordinator).json
    assert {t["id"] for t in listed} == {
        t["id"] for t in page["tasks"] if t["patient_id"] == patient["id"]
    }
    # A task given to someone else is not waiting for the caller.
    other = make_user("coordinator", username="api-other")
    given = db.session.get_one(HumanTaskModel, listed[0]["id"])
    given.assigned_to_id = other.id
    db.session.commit()
    me = db.session.scalar(select(UserModel).where(UserModel.username == "api-next"))
    assert me is not None
    still = [t.id for t in ready_for(actor_for(me), patient["id"])]
    assert given.id not in still and still == [t["id"] for t in listed[1:]]
