"""Reading a patient's pathway state is running it too: the event list, the close preview, the
API's events, delivering a message and the migration dry run all read the stored state, and
a state that cannot be read (one the engine worker cannot load, one that outgrows the worker
and gets it stopped) pauses that patient's pathway with the reason, listed in operations,
while the person sees a page saying so in plain words: never a 500, never a patient left
running and unflagged."""

from __future__ import annotations

import base64
import functools
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mdt.extensions import db
from mdt.models import InstanceStatus, PathwayInstanceModel, PathwayVersionModel
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.errors import PathwayFailedError
from mdt.services.instances import complete_task, send_event
from mdt.services.pathway_migration import plan_migration
from mdt.services.pathway_operations import operations
from mdt.services.pathways import engine_for, engine_pool
from workflows import migration_blockers
from workflows.isolation import stop_pools

from .conftest import Auth, csrf_token
from .hostile_bpmn import patient_at_first_task, publish_hostile, script


@functools.cache
def _too_big_to_load() -> str:
    """A stored state of 4.7 MB that decompresses to 1 GiB: the worker runs out of memory
    reading it (and is replaced)."""
    packer = zlib.compressobj(1)
    chunk = b" " * (16 << 20)
    packed = b"".join(packer.compress(chunk) for _ in range(64)) + packer.flush()
    return "z2:" + base64.b64encode(packed).decode("ascii")


def _unreadable() -> str:
    return "this is not a pathway's state"


STATES: dict[str, Callable[[], str]] = {
    "unreadable": _unreadable,
    "too-big-for-the-worker": _too_big_to_load,
}


@pytest.fixture
def isolated(app: Flask) -> Iterator[None]:
    saved = {key: app.config[key] for key in app.config if key.startswith("MDT_ENGINE_")}
    app.config.update(
        MDT_ENGINE_ISOLATION=True,
        MDT_ENGINE_WORKERS=1,
        MDT_ENGINE_WALL_SECONDS=5.0,
        MDT_ENGINE_MEMORY_MB=768,
    )
    yield
    app.config.update(saved)
    stop_pools()


def _broken_patient(make_user: Any, actor: Any, state: str, key: str = "reads") -> Any:
    """A nurse (who may record events), a manager, and a patient whose stored state is
    ``state``: (nurse user, manager actor, patient, instance id, version)."""
    nurse_user = make_user("cns", "coordinator")
    manager = actor(make_user("manager"))
    version = publish_hostile(script("answer = 1"), key)
    patient, task = patient_at_first_task(actor(nurse_user), key)
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    assert instance is not None
    instance.state = state
    db.session.commit()
    return nurse_user, manager, patient, task.instance_id, version


def _paused_and_listed(manager: Any, instance_id: int, version: PathwayVersionModel) -> str:
    db.session.expire_all()
    instance = db.session.get(PathwayInstanceModel, instance_id)
    assert instance is not None and instance.status == InstanceStatus.ERROR
    assert instance.error_message
    listed = {p.instance_id: p.error for p in operations(manager, version.id).paused}
    assert listed[instance_id] == instance.error_message
    return instance.error_message


@pytest.mark.parametrize("kind", list(STATES))
def test_the_event_list_says_the_pathway_is_paused(
    isolated, make_user, actor, client: FlaskClient, auth: Auth, kind: str
) -> None:
    nurse, manager, patient, instance_id, version = _broken_patient(
        make_user, actor, STATES[kind]()
    )
    replaced = engine_pool().stats.replaced
    auth.login(nurse.username)
    page = client.get(f"/patients/{patient.id}/events/new")
    text = page.get_data(as_text=True)
    assert page.status_code == 409, text[:2000]
    assert "This patient&#39;s pathway is paused" in text
    reason = _paused_and_listed(manager, instance_id, version)
    assert reason in text.replace("&#39;", "'")
    if kind == "too-big-for-the-worker":
        assert "memory" in reason
        # The worker that ran out was not trusted again: the next patient gets a new one.
        nurse_actor = actor(nurse)
        _, task = patient_at_first_task(nurse_actor, "reads", index=1)
        complete_task(nurse_actor, task.id, {"size_cm": 3})
        assert engine_pool().stats.replaced > replaced


def test_the_close_preview_says_the_pathway_is_paused(
    isolated, make_user, actor, client: FlaskClient, auth: Auth
) -> None:
    nurse, manager, patient, instance_id, version = _broken_patient(
        make_user, actor, STATES["unreadable"]()
    )
    auth.login(nurse.username)
    url = f"/patients/{patient.id}/events/new"
    answer = client.post(
        url,
        data={
            "event": "death",
            "date-day": "1",
            "date-month": "11",
            "date-year": "2026",
            "csrf_token": csrf_token(client, "/notifications"),
        },
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 409, text[:2000]
    assert "This patient&#39;s pathway is paused" in text
    assert "Confirm" not in text  # no preview of a close on a state nobody could read
    _paused_and_listed(manager, instance_id, version)
    # Once paused, the list offers nothing to record on it (and says nothing false).
    assert client.get(url).status_code == 200


def test_the_api_names_the_pause_when_the_events_cannot_be_read(
    isolated, make_user, actor, client: FlaskClient
) -> None:
    nurse, manager, patient, instance_id, version = _broken_patient(
        make_user, actor, STATES["unreadable"]()
    )
    _, secret = create_token(SYSTEM, nurse.id, "tests", scope="read")
    answer = client.get(
        f"/api/v1/patients/{patient.id}/events", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 409, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert error["code"] == "pathway_paused"
    assert error["details"]["pathway_instance_id"] == instance_id
    assert error["details"]["reason"] == _paused_and_listed(manager, instance_id, version)


def test_a_message_to_a_state_that_cannot_be_read_pauses_the_pathway(make_user, actor) -> None:
    # In this process (the tests' default): restoring the state is where it fails.
    _, manager, _, instance_id, version = _broken_patient(make_user, actor, "{}")
    with pytest.raises(PathwayFailedError):
        send_event(SYSTEM, instance_id, "anything", {})
    _paused_and_listed(manager, instance_id, version)


def test_the_migration_dry_run_names_a_patient_whose_state_cannot_be_read(make_user, actor) -> None:
    _, manager, patient, instance_id, old = _broken_patient(
        make_user, actor, "this is not a pathway's state"
    )
    new = publish_hostile(script("answer = 2"), "reads")
    plan = plan_migration(manager, old.id, new.id)  # the dry run answers for everyone
    [check] = plan.patients
    assert check.patient.id == patient.id
    assert any("paused" in reason for reason in check.reasons), check.reasons
    assert not check.movable
    _paused_and_listed(manager, instance_id, old)


def test_the_dry_run_reads_each_state_in_the_workers(isolated, make_user, actor) -> None:
    """The same answers as in this process, but the states are read in the workers: one that
    would take a web worker's memory only pauses that patient."""
    nurse = actor(make_user("cns", "coordinator"))
    manager = actor(make_user("manager"))
    old = publish_hostile(script("answer = 1"), "moves")
    done, task = patient_at_first_task(nurse, "moves", 0)
    complete_task(nurse, task.id, {"size_cm": 3})  # the step the new version changes has run
    waiting, _ = patient_at_first_task(nurse, "moves", 1)  # nothing changed done yet
    huge, huge_task = patient_at_first_task(nurse, "moves", 2)
    instance = db.session.get(PathwayInstanceModel, huge_task.instance_id)
    assert instance is not None
    instance.state = _too_big_to_load()
    db.session.commit()
    new = publish_hostile(script("answer = 2"), "moves")
    before = engine_pool().stats.operations
    checks = {check.patient.id: check for check in plan_migration(manager, old.id, new.id).patients}
    assert engine_pool().stats.operations >= before + 3  # each state read in a worker
    assert checks[waiting.id].movable
    done_instance = db.session.get(PathwayInstanceModel, task.instance_id)
    assert done_instance is not None
    in_process = migration_blockers(
        done_instance.state, engine_for(old).pathway, engine_for(new).pathway
    )
    assert checks[done.id].reasons == in_process != []
    assert "memory" in checks[huge.id].reasons[0] and "paused" in checks[huge.id].reasons[0]
    _paused_and_listed(manager, huge_task.instance_id, old)
