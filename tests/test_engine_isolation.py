"""Pathway code runs in engine workers with hard limits (workflows/isolation.py): the attacks
that leaked through the in-process limits now pause one patient's pathway within the limit,
the worker that was stopped is replaced, and the service carries on."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask

from mdt.extensions import db
from mdt.models import InstanceStatus, PathwayInstanceModel
from mdt.services.errors import PathwayFailedError
from mdt.services.instances import complete_task
from mdt.services.pathways import engine_for, engine_pool
from workflows.isolation import IsolatedEngine, stop_pools

from .helpers import ready_task
from .hostile_bpmn import (
    AFTER,
    patient_at_first_task,
    publish_hostile,
    script,
    timer,
    user_task,
)

WALL = 3.0  # the workers' wall-clock limit in these tests (production: 5 s)


@pytest.fixture
def isolated(app: Flask) -> Iterator[None]:
    saved = {key: app.config[key] for key in app.config if key.startswith("MDT_ENGINE_")}
    app.config.update(
        MDT_ENGINE_ISOLATION=True,
        MDT_ENGINE_WORKERS=2,
        MDT_ENGINE_WALL_SECONDS=WALL,
        MDT_ENGINE_CPU_SECONDS=2,
        MDT_ENGINE_MEMORY_MB=768,
    )
    yield
    app.config.update(saved)
    stop_pools()


def _paused_quickly(
    actor, key: str, element: str, words: str, setup: str | None = None
) -> PathwayInstanceModel:
    """Publish ``element`` after a nurse's task, complete the task, and check the pathway was
    paused within the limit with ``words`` in its reason and its last good state kept."""
    publish_hostile(element, key, setup)
    patient, task = patient_at_first_task(actor, key)
    started = time.monotonic()
    with pytest.raises(PathwayFailedError) as failure:
        complete_task(actor, task.id, {"size_cm": 3})
    elapsed = time.monotonic() - started
    assert elapsed < WALL + 4, elapsed  # the limit, plus a busy machine's slack
    db.session.expire_all()
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    assert instance.status == InstanceStatus.ERROR
    assert words in instance.error_message, instance.error_message
    assert failure.value.instance_id == instance.id
    assert ready_task(patient.id, task.name).id == task.id  # the last good state is kept
    return instance


def test_an_ordinary_pathway_runs_in_the_workers(isolated, make_user, actor) -> None:
    nurse = actor(make_user("cns", "coordinator"))
    publish_hostile(script("answer = 6 * 7"), "plain")
    patient, task = patient_at_first_task(nurse, "plain")
    engine = engine_for(task.instance.pathway_version)
    assert isinstance(engine, IsolatedEngine)
    complete_task(nurse, task.id, {"size_cm": 3})
    assert ready_task(patient.id, AFTER).status == "ready"
    assert engine_pool().stats.operations >= 2


def test_a_starting_process_builds_its_pathways_in_every_worker(isolated, pathway) -> None:
    """wsgi.py warms the engines before a gunicorn worker takes requests: each engine worker
    has the published pathway built, so no patient waits for a compile after a restart."""
    from mdt.services.pathways import warm_engines

    assert warm_engines() >= 1
    pool = engine_pool()
    key = engine_for(pathway).recipe.key  # type: ignore[union-attr]
    assert all(key in worker.known for worker in pool._idle)
    assert len(pool._idle) == 2


@pytest.mark.parametrize(
    ("source", "words"),
    [
        # One C call each: the in-process line tracer never saw them.
        ("x = round(1, -10000000)", "Stopped"),
        ("s = set([i * 2305843009213693951 for i in range(60000)])", "Stopped"),
        (
            "x = 1\nfor i in range(40):\n    x = x << 100000\ny = x // ((x >> 2000000) + 1)",
            "",  # refused by the sandbox's number guard, or stopped: paused either way
        ),
    ],
    ids=["round", "colliding-set", "shift-then-divide"],
)
def test_a_long_c_call_is_stopped_by_the_worker_limits(
    isolated, make_user, actor, source: str, words: str
) -> None:
    nurse = actor(make_user("cns", "coordinator"))
    before = engine_pool().stats.replaced
    _paused_quickly(nurse, "c-call", script(source), words)
    if "set(" in source:  # no signal is checked inside set(): the worker was killed...
        assert engine_pool().stats.replaced > before  # ...and replaced
    # ...and the pool still serves the next patient
    publish_hostile(script("answer = 1"), "after-attack")
    patient, task = patient_at_first_task(nurse, "after-attack", index=1)
    complete_task(nurse, task.id, {"size_cm": 1})
    assert ready_task(patient.id, AFTER)


def test_a_helper_asked_for_millions_of_working_days_is_stopped(isolated, make_user, actor):
    # Helpers are not traced by the sandbox; the worker's own alarm stops Python code.
    nurse = actor(make_user("cns", "coordinator"))
    instance = _paused_quickly(
        nurse, "helper", timer("working_days_from_now(days)"), "", setup="days = 2100000"
    )
    assert "Stopped" in instance.error_message


def test_a_list_that_doubles_on_each_line_is_refused_not_stored(isolated, make_user, actor):
    nurse = actor(make_user("cns", "coordinator"))
    source = "x = [1]\n" + "x = [x, x]\n" * 24
    instance = _paused_quickly(nurse, "doubling", script(source), "values")
    assert len(instance.state) < 20_000  # the last good state, not 16 million items


def test_a_template_that_loops_for_ever_shows_as_written(isolated, make_user, actor):
    nurse = actor(make_user("cns", "coordinator"))
    loops = (
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}"
    )
    publish_hostile(user_task("Read this", documentation=loops), "jinja")
    patient, task = patient_at_first_task(nurse, "jinja")
    started = time.monotonic()
    complete_task(nurse, task.id, {"size_cm": 3})
    assert time.monotonic() - started < WALL + 4
    shown = ready_task(patient.id, "Read this")
    assert shown.instructions == loops  # shown as written, not run for ever


def test_twenty_thousand_repeated_tasks_pause_the_pathway(isolated, make_user, actor):
    nurse = actor(make_user("cns", "coordinator"))
    instance = _paused_quickly(
        nurse, "many", user_task("Again", cardinality="n"), "", setup="n = 20000"
    )
    assert "tasks" in instance.error_message or "Stopped" in instance.error_message


def test_a_worker_that_runs_out_of_memory_is_replaced(isolated, make_user, actor):
    nurse = actor(make_user("cns", "coordinator"))
    # Each line is within the sandbox's own limits; together they outgrow the worker.
    source = "x = []\nfor i in range(100):\n    x.append('y' * 9000000)\n"
    _paused_quickly(nurse, "memory", script(source), "")
