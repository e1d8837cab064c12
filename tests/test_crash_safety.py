"""A real gunicorn killed with SIGKILL in the middle of a load of completions: every
completion it acknowledged is in the database, and no instance is left corrupt."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import select

from mdt import PROJECT_ROOT
from mdt.benchmarks.load import Client, free_port
from mdt.extensions import db
from mdt.models import AuditEventModel, HumanTaskModel, PathwayInstanceModel, TaskStatus
from mdt.services.pathways import engine_for
from mdt.services.patients import register_patient

from .conftest import PASSWORD
from .helpers import NHS_NUMBERS, ready_task
from .test_reliability import FORM

PATIENTS = 90
CLIENTS = 4
KILL_AFTER = 20  # acknowledged completions


def _serve(app: Flask) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "MDT_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MDT_INSTANCE_PATH": app.instance_path,
        "MDT_SECRET_KEY": "k" * 40,
    }
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "error",
         "wsgi:app"],
        cwd=PROJECT_ROOT, env=env, start_new_session=True,  # its own group, killed whole
    )  # fmt: skip
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("gunicorn did not start")


def _load(
    port: int, work: list[int], acknowledged: list[int], stop: threading.Event
) -> list[threading.Thread]:
    """Clients completing tasks until ``KILL_AFTER`` were acknowledged; then ``stop`` is set
    and the clients, still running, are returned."""
    lock = threading.Lock()

    def client(share: list[int]) -> None:
        try:
            session = Client(port)
            token = session.sign_in("crash-coordinator", PASSWORD)
            for task_id in share:
                if stop.is_set():
                    return
                status, _ = session.request(
                    "POST", f"/tasks/{task_id}", {**FORM, "csrf_token": token}
                )
                if status == 302:  # the app answered: saved
                    with lock:
                        acknowledged.append(task_id)
        except (OSError, http.client.HTTPException):
            return  # the server died under us: whatever was not answered was not promised

    threads = [threading.Thread(target=client, args=(work[i::CLIENTS],)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.005)
    stop.set()
    return threads


def test_sigkill_under_load_loses_no_acknowledged_completion(
    app: Flask, pathway: Any, make_user: Any, actor: Any
) -> None:
    coordinator = actor(make_user("coordinator", username="crash-coordinator"))
    work = []
    for index in range(PATIENTS):
        patient = register_patient(
            coordinator, NHS_NUMBERS[index], "Jo", f"Crash{index}", date(1960, 1, 1), None
        )
        work.append(ready_task(patient.id, "Register secondary diagnosis").id)
    db.session.remove()

    server, port = _serve(app)
    acknowledged: list[int] = []
    stop = threading.Event()
    try:
        threads = _load(port, work, acknowledged, stop)
        os.killpg(server.pid, signal.SIGKILL)  # master and workers, mid-request
        server.wait(timeout=30)
        for thread in threads:
            thread.join(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    promised = set(acknowledged)
    assert len(promised) >= KILL_AFTER

    db.session.expire_all()
    completed = set(
        db.session.scalars(
            select(HumanTaskModel.id).where(
                HumanTaskModel.id.in_(work), HumanTaskModel.status == TaskStatus.COMPLETED
            )
        )
    )
    assert promised <= completed, f"acknowledged but lost: {sorted(promised - completed)}"
    assert len(completed) < PATIENTS, "the kill came after the work was done: nothing proven"
    audited = set(
        int(str(i))
        for i in db.session.scalars(
            select(AuditEventModel.object_id).where(AuditEventModel.action == "task.completed")
        )
    )
    assert audited == completed  # each saved completion has its audit row, and no other
    for instance in db.session.scalars(select(PathwayInstanceModel)):
        run = engine_for(instance.pathway_version).restore(instance.state)  # not corrupt
        rows = set(
            db.session.scalars(
                select(HumanTaskModel.spiff_task_id).where(
                    HumanTaskModel.instance_id == instance.id,
                    HumanTaskModel.status == TaskStatus.READY,
                )
            )
        )
        assert {task.id for task in run.ready_tasks()} == rows, instance.id
