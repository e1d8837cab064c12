"""Every route of the URL map, as every role and as nobody: the access policy is declared as
reviewed (`access_policy.py`) and enforced.

Routes are found from the application itself, so a new route fails here until the policy
says who may use it. Each request uses real objects (a patient on the pathway, a meeting with
a listing), so an admitted role reaches the page (no 403, no server error) and a refused one
gets 403 before any work is done.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from mdt.models.roles import Role
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token, revoke_token
from mdt.services.meetings import (
    add_listing,
    attendees,
    candidates,
    create_series,
    record_attendance,
    schedule_next,
)
from mdt.web.access import ANY_ROLE, PUBLIC, ROLES

from .access_policy import ANY, POLICY, TASK_RULES
from .access_policy import PUBLIC as POLICY_PUBLIC
from .conftest import Auth, csrf_token
from .helpers import complete_with_examples, new_patient, ready_task, route_requests
from .scenarios import DIAGNOSIS

ANONYMOUS = "anonymous"


def _declared(app: Flask, endpoint: str) -> str | frozenset[str]:
    view = app.view_functions[endpoint]
    if getattr(view, PUBLIC, False):
        return POLICY_PUBLIC
    if getattr(view, ANY_ROLE, False):
        return ANY
    return frozenset(getattr(view, ROLES, frozenset()))


def test_every_route_is_in_the_reviewed_policy(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    assert sorted(endpoints - set(POLICY)) == [], "add new routes to tests/access_policy.py"
    assert sorted(set(POLICY) - endpoints) == [], "remove routes that no longer exist"
    differing = {e: _declared(app, e) for e in endpoints if _declared(app, e) != POLICY[e]}
    assert differing == {}


@pytest.fixture
def world(pathway: Any, make_user: Any, actor: Any) -> dict[str, Any]:
    """Real objects for every kind of id in the URL map."""
    coordinator = actor(make_user("coordinator", username="world-coordinator"))
    patient = new_patient(coordinator)
    complete_with_examples(
        coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    complete_with_examples(coordinator, ready_task(patient.id, "Allocate a CNS key worker"))
    complete_with_examples(
        coordinator, ready_task(patient.id, "List for MDT review"), clinical_question="Q"
    )
    series = create_series(coordinator, "Breast MDT", 3, "13:00", "Room 4")
    meeting = schedule_next(coordinator, series.id)
    waiting = candidates(meeting).tasks[0]
    listing = add_listing(coordinator, meeting.id, waiting.id, "discussion", None, None)
    record_attendance(coordinator, meeting.id, "Dr Away", "radiology", False, None)
    bystander = make_user("cns", username="world-bystander")
    task = ready_task(patient.id, "First contact with key worker")
    return {
        "patient_id": patient.id,
        "task_id": task.id,
        "task_role": task.role,
        "meeting_id": meeting.id,
        "listing_id": listing.id,
        "attendance_id": attendees(meeting)[0].id,
        "series_id": series.id,
        "version_id": pathway.id,
        "instance_id": task.instance_id,
        "user_id": bystander.id,
        "key": "is1_first_contact",
        "kind": "roles",
        "name": "secondary_breast_cancer.bpmn",
        "token_id": 1,
        "notification_id": 1,
        "closing_id": 1,
        "nhs_number": patient.nhs_number,
    }


def _expected(role: str, endpoint: str, url: str, world: dict[str, Any]) -> Any:
    """What a request should get: a status, or "admitted" (no 401/403, no server error)."""
    allowed = POLICY[endpoint]
    if endpoint in TASK_RULES:
        allowed = TASK_RULES[endpoint](world["task_role"]) & allowed
    if role == ANONYMOUS:
        return 401 if url.startswith("/api/") else 302
    return "admitted" if allowed == ANY or role in allowed else 403


def _verdict(expected: Any, response: Any) -> bool:
    if expected == "admitted":
        return response.status_code not in (401, 403) and response.status_code < 500
    if expected == 401:
        return response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    if expected == 302:
        return response.status_code == 302 and "/sign-in" in response.location
    return bool(response.status_code == expected)


@pytest.mark.parametrize("role", [*Role, ANONYMOUS])
def test_each_role_reaches_exactly_what_the_policy_admits(
    role: str, app: Flask, client: Any, auth: Auth, make_user: Any, world: dict[str, Any]
) -> None:
    if role != ANONYMOUS:
        auth.login(make_user(role).username)
    token = csrf_token(client, "/sign-in" if role == ANONYMOUS else "/notifications")
    wrong = []
    for endpoint, method, url in route_requests(app, world):
        if method == "GET":
            response = client.get(url)
        elif url.startswith("/api/"):  # a body of the right shape, so access decides
            response = client.open(
                url, method=method, json={"data": {}}, headers={"X-CSRFToken": token}
            )
        else:
            response = client.post(url, data={"csrf_token": token})
        if not _verdict(_expected(role, endpoint, url, world), response):
            wrong.append(f"{method} {url} -> {response.status_code}")
    assert wrong == []


@pytest.mark.parametrize("role", [*Role, "revoked token", "made-up token"])
def test_each_api_route_with_a_token_as_each_role(
    role: str, app: Flask, client: Any, make_user: Any, world: dict[str, Any]
) -> None:
    """The API with a personal token and no session: the same policy; a revoked or made-up
    token is no one (401). Token requests need no CSRF token: no cookie is involved."""
    user = make_user(role if role in set(Role) else "cns")
    token, secret = create_token(SYSTEM, user.id, "matrix")
    if role == "revoked token":
        revoke_token(SYSTEM, token.id)
    elif role == "made-up token":
        secret = "mdt_" + "x" * 43
    headers = {"Authorization": f"Bearer {secret}"}
    wrong = []
    for endpoint, method, url in route_requests(app, world):
        if not url.startswith("/api/") or endpoint == "api_docs":
            continue
        if method == "GET":
            response = client.get(url, headers=headers)
        else:
            response = client.open(url, method=method, json={"data": {}}, headers=headers)
        expected = _expected(role if role in set(Role) else ANONYMOUS, endpoint, url, world)
        if not _verdict(expected, response):
            wrong.append(f"{method} {url} -> {response.status_code}")
        assert "Set-Cookie" not in response.headers, url  # tokens never start a session
    assert wrong == []
