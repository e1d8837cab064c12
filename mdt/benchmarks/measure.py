"""In-process measurements: worklists, patient pages, task completion against the bare
engine, starting pathways, a scheduler pass, and storage per patient."""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from mdt.benchmarks import breakdown
from mdt.benchmarks.cohort import DECIDED_OUTSIDE
from mdt.benchmarks.forms_encoding import form_post
from mdt.extensions import db
from mdt.models import HumanTaskModel, PathwayInstanceModel, PatientModel, TaskStatus, TimerModel
from mdt.models.meeting import MeetingModel
from mdt.services.actor import Actor
from mdt.services.demo import example_answers
from mdt.services.outside_meetings import CLINICIANS, FIELD, REASON, needs_declaration
from mdt.services.pathways import engine_for, form_schema
from mdt.services.patients import register_patient
from mdt.services.scheduler import fire_due
from workflows import decode_state, encode_state

PASSWORD = "benchmark-password-1"


@dataclass
class Timing:
    """Milliseconds per run, each split into the engine's share and SQL's when the
    benchmark's instrumentation is on (``breakdown.instrumented``; zeros otherwise)."""

    samples: list[float] = field(default_factory=list)
    engine: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)

    def time(self, work: Callable[[], Any]) -> Any:
        breakdown.reset()
        started = time.perf_counter()
        result = work()
        self.samples.append((time.perf_counter() - started) * 1000)
        engine_ms, sql_ms = breakdown.read()
        self.engine.append(engine_ms)
        self.sql.append(sql_ms)
        return result

    def figures(self) -> dict[str, float]:
        """p50 and p95, and the median engine, SQL and remaining milliseconds per run."""
        rest = [t - e - q for t, e, q in zip(self.samples, self.engine, self.sql, strict=True)]
        return {
            "p50_ms": self.p50,
            "p95_ms": self.p95,
            "engine_p50_ms": statistics.median(self.engine),
            "sql_p50_ms": statistics.median(self.sql),
            "rest_p50_ms": statistics.median(rest),
        }

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post("/sign-in", data={"username": username, "password": PASSWORD, "csrf_token": token})
    return client


def csrf(client: FlaskClient) -> str:
    page = client.get("/notifications").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def worklists(app: Flask, rounds: int = 80) -> dict[str, Timing]:
    results: dict[str, Timing] = {}
    for role in ("coordinator", "cns", "oncologist"):
        client = signed_in(app, f"bench-{role}")
        for _ in range(10):  # warm up: templates compiled, caches and connections filled
            client.get("/tasks")
        timing = Timing()
        for _ in range(rounds):
            response = timing.time(partial(client.get, "/tasks"))
            assert response.status_code == 200
        results[role] = timing
    return results


def patient_pages(app: Flask, rounds: int = 60, seed: int = 3) -> Timing:
    client = signed_in(app, "bench-all")
    ids = list(db.session.scalars(select(PatientModel.id)))
    rng = random.Random(seed)
    for patient_id in ids[:3]:  # warm up
        client.get(f"/patients/{patient_id}")
    timing = Timing()
    for patient_id in rng.sample(ids, min(rounds, len(ids))):
        response = timing.time(partial(client.get, f"/patients/{patient_id}"))
        assert response.status_code == 200
    return timing


def page_timing(app: Flask, url: str, rounds: int = 40, user: str = "bench-all") -> Timing:
    """Server time of one page, after warming up (templates compiled, caches filled)."""
    client = signed_in(app, user)
    for _ in range(3):
        assert client.get(url).status_code == 200, url
    timing = Timing()
    for _ in range(rounds):
        response = timing.time(partial(client.get, url))
        assert response.status_code == 200
    return timing


def planned_meeting_url() -> str:
    meeting_id = db.session.scalar(
        select(MeetingModel.id).where(MeetingModel.status == "planned").limit(1)
    )
    return f"/meetings/{meeting_id}"


def completions(app: Flask, count: int = 150, seed: int = 5) -> tuple[Timing, Timing]:
    """Complete tasks over HTTP (test client: routing, auth, CSRF, forms, engine, commit), and
    the same step with the bare engine in memory (load state, complete, steps, save state)."""
    client = signed_in(app, "bench-all")
    token = csrf(client)
    rng = random.Random(seed)
    candidates = list(
        db.session.scalars(
            select(HumanTaskModel.id).where(HumanTaskModel.status == TaskStatus.READY)
        )
    )
    http, bare = Timing(), Timing()
    for task_id in rng.sample(candidates, min(count, len(candidates))):
        task = db.session.get_one(HumanTaskModel, task_id)
        instance = task.instance
        schema = form_schema(instance.pathway_version, task.form) or {}
        answers = example_answers(schema)
        with isolation(False):  # the bare step: the engine itself, in this process
            engine = engine_for(instance.pathway_version)
        state, spiff_id = instance.state, task.spiff_task_id

        def in_memory(
            state: str = state,
            spiff_id: str = spiff_id,
            answers: dict[str, Any] = answers,
            engine: Any = engine,
        ) -> None:
            run = engine.restore(state)
            run.complete_task(spiff_id, answers)
            run.state()

        bare.time(in_memory)
        db.session.remove()
        post = {**form_post(schema, answers), "csrf_token": token, "action": "complete"}
        if needs_declaration(task):
            post.update(outside_meeting_post())

        def over_http(task_id: int = task_id, post: dict[str, Any] = post) -> Any:
            return client.post(f"/tasks/{task_id}", data=post)

        response = http.time(over_http)
        if response.status_code != 302:
            page = response.get_data(as_text=True)
            errors = re.findall(r"<h1>([^<]+)</h1>|<a href=\"#field-[^\"]+\">([^<]+)</a>", page)
            raise RuntimeError(f"completing {task.name} gave {response.status_code}: {errors}")
    return http, bare


@contextmanager
def isolation(on: bool) -> Iterator[None]:
    """Run pathway code in the engine workers (on, as production) or in process (off)."""
    saved = current_app.config["MDT_ENGINE_ISOLATION"]
    current_app.config["MDT_ENGINE_ISOLATION"] = on
    try:
        yield
    finally:
        current_app.config["MDT_ENGINE_ISOLATION"] = saved


def outside_meeting_post() -> dict[str, str]:
    """The task page's declaration that an MDT outcome was decided between meetings, as the
    cohort's own outcomes are (a clinician would tick the box and name who decided)."""
    post = {FIELD: "yes", REASON: DECIDED_OUTSIDE.reason}
    for row, clinician in enumerate(DECIDED_OUTSIDE.clinicians):
        post[f"{CLINICIANS}.{row}.name"] = clinician.name
        post[f"{CLINICIANS}.{row}.discipline"] = clinician.discipline
    return post


def start_rate(actor: Actor, numbers: list[str]) -> float:
    from datetime import date

    started = time.perf_counter()
    for index, number in enumerate(numbers):
        register_patient(actor, number, "New", f"Start{index}", date(1960, 1, 1), "Surgery")
    return len(numbers) / (time.perf_counter() - started)


def make_due(
    count: int,
    when: datetime,
    rng: random.Random,
    spread: timedelta = timedelta(0),
    one_per_instance: bool = False,
    instance_ids: list[int] | None = None,
) -> dict[int, datetime]:
    """Move ``count`` waiting timers to ``when`` (+ up to ``spread``), in the timer table and
    in each instance's stored state (the engine decides from its own copy). With
    ``one_per_instance`` only instances waiting on a single timer are chosen, so each should
    fire exactly once; with ``instance_ids``, only (all) their timers are moved."""
    query = select(TimerModel.id, TimerModel.instance_id, TimerModel.due_at)
    if instance_ids is not None:
        query = query.where(TimerModel.instance_id.in_(instance_ids))
    if one_per_instance:
        single = (
            select(TimerModel.instance_id)
            .group_by(TimerModel.instance_id)
            .having(func.count(TimerModel.id) == 1)
        )
        query = query.where(TimerModel.instance_id.in_(single))
    rows = list(db.session.execute(query.order_by(TimerModel.id)))
    chosen = rng.sample(rows, min(count, len(rows)))
    due: dict[int, datetime] = {}
    for timer_id, instance_id, old in chosen:
        new = when + spread * rng.random()
        instance = db.session.get_one(PathwayInstanceModel, instance_id)
        text = decode_state(instance.state)
        text = text.replace(old.isoformat(), new.isoformat())
        text = text.replace(old.astimezone(_london()).isoformat(), new.isoformat())
        instance.state = encode_state(text)
        db.session.get_one(TimerModel, timer_id).due_at = new
        due[instance_id] = new
    db.session.commit()
    return due


def _london() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/London")


def scheduler_pass(count: int = 200, seed: int = 9) -> tuple[float, int]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    make_due(count, now - timedelta(seconds=1), rng)
    started = time.perf_counter()
    fired = fire_due(datetime.now(UTC), limit=count)
    return (time.perf_counter() - started) * 1000, fired


def storage(patients: int) -> dict[str, float]:
    states = list(db.session.scalars(select(func.length(PathwayInstanceModel.state))))
    ordered = sorted(states)
    if db.engine.dialect.name == "postgresql":
        total = db.session.scalar(text("SELECT pg_database_size(current_database())"))
    else:
        pages = db.session.scalar(text("PRAGMA page_count"))
        size = db.session.scalar(text("PRAGMA page_size"))
        total = pages * size
    return {
        "state_bytes_mean": statistics.mean(states),
        "state_bytes_p95": ordered[int(len(ordered) * 0.95)],
        "database_bytes_per_patient": total / max(patients, 1),
    }
