"""Availability under attack, on gunicorn as docs/deploy.md runs it (four sync workers, the
engine workers on as in production), on the suite's database (SQLite or PostgreSQL).

Four requests at once with a clinician's API token each run pathway code that would hold a
processor for seconds in one C call, which no line tracer can stop. Before the engine workers, four such
requests left no sign-in probe answered for 30 s. Now each stops at the engine workers' wall
limit: all four gunicorn workers are busy until then (sync workers serve one request each),
so a probe sent while all four run is answered as soon as the first is stopped, well within
its timeout; each hostile request ends as the API's documented refusal, each patient is
paused with the reason and listed in operations, and the service then works as before.

The probes' timeout is generous on purpose: what is measured is that the page is served
while the attack runs, not how fast.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import pytest
from flask import Flask
from sqlalchemy import select

from mdt import PROJECT_ROOT
from mdt.benchmarks.load import free_port
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    PathwayVersionModel,
)
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.pathway_operations import operations

from .helpers import ready_task
from .hostile_bpmn import ASSESS, patient_at_first_task, publish_hostile, script

HOSTILE = 4
WALL = 5.0  # the engine workers' wall-clock limit: production's default
PROBE_TIMEOUT = 20.0  # generous: the probe must be answered, not answered fast
C_CALLS = (
    # Each longer than a probe's timeout when nothing stops it (a test of this test: with
    # MDT_ENGINE_ISOLATION=0 the probes go unanswered).
    "x = round(1, -100000000)",  # over a minute in one C call
    "s = set([i * 2305843009213693951 for i in range(60000)])",  # colliding hashes: 26 s
)


@dataclass
class Answer:
    sent: float
    answered: float
    status: int
    body: str


@dataclass(frozen=True)
class Hostile:
    id: int
    instance_id: int
    patient_id: int


def _first_tasks(versions: list[PathwayVersionModel]) -> list[HumanTaskModel]:
    return list(
        db.session.scalars(
            select(HumanTaskModel)
            .join(PathwayInstanceModel, PathwayInstanceModel.id == HumanTaskModel.instance_id)
            .where(PathwayInstanceModel.pathway_version_id.in_([v.id for v in versions]))
            .order_by(HumanTaskModel.id)
        )
    )


def _request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> Answer:
    sent = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        status, text = response.status, response.read().decode()
    except (OSError, http.client.HTTPException) as error:
        status, text = 0, repr(error)  # not answered within the timeout, or refused
    finally:
        connection.close()
    return Answer(sent, time.monotonic(), status, text)


def _api_complete(port: int, secret: str, task_id: int) -> Answer:
    return _request(
        port,
        "POST",
        f"/api/v1/tasks/{task_id}/complete",
        json.dumps({"data": {"size_cm": 3}}).encode(),
        {**_bearer(secret), "Content-Type": "application/json"},
    )


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _expect_completed(port: int, secret: str, task_id: int) -> None:
    done = _api_complete(port, secret, task_id)
    assert done.status == 200, done.body[:500]


def _all_at_once(calls: list[Callable[[], None]]) -> None:
    failures: list[BaseException] = []

    def run(call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures


@pytest.fixture
def gunicorn(app: Flask) -> Iterator[int]:
    """gunicorn with four workers on the suite's database; stopped, engine workers and all,
    before the database is emptied."""
    port = free_port()
    env = {
        **os.environ,
        "MDT_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MDT_INSTANCE_PATH": app.instance_path,
        "MDT_SECRET_KEY": "g" * 40,
        "MDT_ENGINE_ISOLATION": "1",
        "MDT_ENGINE_WALL_SECONDS": str(WALL),
    }
    for name in ("MDT_ENGINE_TIME_LIMIT", "MDT_ENGINE_CPU_SECONDS", "MDT_ENGINE_WORKERS"):
        env.pop(name, None)  # production's defaults
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "--workers", "4", "--bind", f"127.0.0.1:{port}", "--log-level", "error",
         "wsgi:app"],
        cwd=PROJECT_ROOT, env=env, start_new_session=True,  # its own group, stopped whole
    )  # fmt: skip
    try:
        _wait_until_serving(port)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # engine workers left behind, if any
        server.wait(timeout=10)


def _wait_until_serving(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
            continue
        if _request(port, "GET", "/sign-in").status == 200:
            return
    raise AssertionError("gunicorn did not start")


def test_the_sign_in_page_is_served_while_four_hostile_requests_run(
    app: Flask, gunicorn: int, make_user, actor
) -> None:
    user = make_user("cns", "coordinator")
    nurse = actor(user)
    manager = actor(make_user("manager"))
    versions = [publish_hostile(script(source), f"c-call-{n}") for n, source in enumerate(C_CALLS)]
    publish_hostile(script("answer = 6 * 7"), "ordinary")
    for index in range(HOSTILE):
        patient_at_first_task(nurse, f"c-call-{index % len(C_CALLS)}", index)
    ordinary = [
        patient_at_first_task(nurse, "ordinary", HOSTILE + n)[1].id for n in range(HOSTILE + 1)
    ]
    _, secret = create_token(SYSTEM, user.id, "attack")
    # Plain values: the server needs everything committed, and the session let go.
    tasks = [Hostile(t.id, t.instance_id, t.patient_id) for t in _first_tasks(versions)]
    assert len(tasks) == HOSTILE
    version_ids = [version.id for version in versions]
    db.session.remove()

    # Ordinary work first, four at once: each gunicorn worker starts its engine workers (as
    # in a service that has been running), and the token's use this minute is written (its
    # first use in a minute is written with the request's own transaction, which on SQLite
    # would hold the database's lock while the pathway runs).
    _all_at_once([partial(_expect_completed, gunicorn, secret, t) for t in ordinary[:-1]])

    hostile: dict[int, Answer] = {}

    def attack(task_id: int) -> None:
        hostile[task_id] = _api_complete(gunicorn, secret, task_id)

    threads = [threading.Thread(target=attack, args=(task.id,)) for task in tasks]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # the four requests reach the four workers
    probes: list[Answer] = []
    while any(thread.is_alive() for thread in threads) or not probes:
        probes.append(_request(gunicorn, "GET", "/sign-in"))
        time.sleep(0.25)  # a person reloading, not a flood
    for thread in threads:
        thread.join(timeout=60)

    # The service answered during the attack: the first probe was sent while all four hostile
    # requests were still running, and every probe was served.
    assert len(hostile) == HOSTILE
    assert probes[0].sent < min(answer.answered for answer in hostile.values())
    assert [p.status for p in probes] == [200] * len(probes), [p.body[:200] for p in probes]
    assert all("Sign in" in p.body for p in probes)

    # Each hostile request ended as the documented refusal naming the pause: no hang, no 500.
    for task in tasks:
        answer = hostile[task.id]
        assert answer.status == 409, answer.body[:500]
        error = json.loads(answer.body)["error"]
        assert error["code"] == "pathway_paused"
        assert error["details"]["pathway_instance_id"] == task.instance_id

    # Nothing is stranded: each patient paused on their last good state, with the reason, and
    # listed in the pathway's operations for the managers.
    paused = {
        p.instance_id: p.error
        for version_id in version_ids
        for p in operations(manager, version_id).paused
    }
    for task in tasks:
        instance = db.session.get(PathwayInstanceModel, task.instance_id)
        assert instance is not None and instance.status == InstanceStatus.ERROR
        assert "Stopped" in (instance.error_message or ""), instance.error_message
        assert paused[task.instance_id] == instance.error_message
        assert ready_task(task.patient_id, ASSESS).id == task.id
    db.session.remove()

    # And the service works as before: stopped engine workers were replaced.
    assert _request(gunicorn, "GET", "/sign-in").status == 200
    _expect_completed(gunicorn, secret, ordinary[-1])
