"""Under load: gunicorn with several workers, concurrent clients completing tasks over HTTP
on 127.0.0.1 (a small client of our own; bounded in count and time)."""

from __future__ import annotations

import http.client
import os
import queue
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import select

from mdt import PROJECT_ROOT
from mdt.benchmarks.forms_encoding import form_post
from mdt.benchmarks.measure import PASSWORD, outside_meeting_post
from mdt.extensions import db
from mdt.models import HumanTaskModel, TaskStatus
from mdt.services.demo import example_answers
from mdt.services.outside_meetings import needs_declaration
from mdt.services.pathways import form_schema


class Client:
    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text

    def sign_in(self, username: str = "bench-all", password: str = PASSWORD) -> str:
        """Sign in; returns a CSRF token for the session's forms."""
        _, page = self.request("GET", "/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        self.request(
            "POST", "/sign-in", {"username": username, "password": password, "csrf_token": token}
        )
        _, page = self.request("GET", "/notifications")
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _work(app: Flask, limit: int) -> queue.Queue[tuple[int, dict[str, Any]]]:
    work: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
    with app.app_context():
        tasks = db.session.scalars(
            select(HumanTaskModel)
            .where(HumanTaskModel.status == TaskStatus.READY)
            .order_by(HumanTaskModel.id)
            .limit(limit)
        )
        seen: set[int] = set()
        for task in tasks:
            # One task per patient: two people completing tasks for the same patient at the
            # same moment is a conflict the app reports (409), not throughput.
            if task.instance_id in seen:
                continue
            seen.add(task.instance_id)
            schema = form_schema(task.instance.pathway_version, task.form) or {}
            post = {**form_post(schema, example_answers(schema)), "action": "complete"}
            if needs_declaration(task):  # an MDT outcome: declared as decided outside one
                post.update(outside_meeting_post())
            work.put((task.id, post))
        db.session.remove()
    return work


def _peak_rss_kb(pids: list[int]) -> int:
    peak = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            peak = max(peak, int(match.group(1)))
    return peak


def load_test(
    app: Flask,
    url: str,
    instance: Path,
    workers: int = 4,
    clients: int = 8,
    seconds: float = 20.0,
    warm_up: float = 5.0,
) -> dict[str, Any]:
    """Completions per second over ``seconds``, after ``warm_up`` seconds of the same load
    not counted (each worker compiles the pathway and starts its engine workers on its first
    completion)."""
    work = _work(app, 6000)
    port = free_port()
    env = {
        **os.environ,
        "MDT_DATABASE_URL": url,
        "MDT_INSTANCE_PATH": str(instance),
        "MDT_SECRET_KEY": "b" * 40,
        "MDT_ENGINE_ISOLATION": "1",  # as production
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen(
        [
            gunicorn,
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        done, errors = [0], [0]
        statuses: Counter[int] = Counter()  # what the errors were (0: no answer)
        lock = threading.Lock()
        count_from = time.monotonic() + warm_up
        stop_at = count_from + seconds

        signing_in = threading.Lock()  # one at a time: parallel sign-ins to one account
        # past the lockout's limit are refused by design (tests/test_sessions.py)

        def signed_in() -> tuple[Client, str]:
            with signing_in:
                session = Client(port)
                return session, session.sign_in()

        def client() -> None:
            session, token = signed_in()
            while time.monotonic() < stop_at:
                try:
                    task_id, body = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    status, _ = session.request(
                        "POST", f"/tasks/{task_id}", {**body, "csrf_token": token}
                    )
                except (OSError, http.client.HTTPException):
                    status = 0
                    session, token = signed_in()
                with lock:
                    if time.monotonic() < count_from:
                        continue
                    if status == 302:
                        done[0] += 1
                    else:
                        errors[0] += 1
                        statuses[status] += 1

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=warm_up + seconds + 60)
        elapsed = time.monotonic() - count_from
        children = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
        ]
        rss = _peak_rss_kb(children)
    finally:
        server.terminate()
        server.wait(timeout=30)
    total = done[0] + errors[0]
    return {
        "workers": workers,
        "cores": os.cpu_count() or 1,
        "clients": clients,
        "completions": done[0],
        "completions_per_s": done[0] / elapsed,
        "error_rate": errors[0] / total if total else 0.0,
        "errors_by_status": dict(statuses),
        "worker_peak_rss_mb": rss / 1024,
        "bench_process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
