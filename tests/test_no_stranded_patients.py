"""Every failure pauses, none strands: whatever goes wrong while a patient's pathway runs (a
timer too far away to compute, a name the database refuses, a worker stopped by its limits),
the instance is paused on its last good state with the reason in plain words, the API names
the pause, and the scheduler's pass moves on to the other patients."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select

from mdt import clock
from mdt.extensions import db
from mdt.models import InstanceStatus, NotificationModel, PathwayInstanceModel
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.errors import PathwayFailedError
from mdt.services.instances import complete_task
from mdt.services.scheduler import fire_due, run_pass
from workflows import PathwayInvalidError

from .helpers import ready_task, ready_tasks
from .hostile_bpmn import (
    AFTER,
    ASSESS,
    patient_at_first_task,
    publish_hostile,
    script,
    timer,
    user_task,
)
from .timing import WORKING_MORNING

ENDLESS_TEMPLATE = (
    "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}"
)


def _instance(instance_id: int) -> PathwayInstanceModel:
    db.session.expire_all()
    return db.session.get(PathwayInstanceModel, instance_id)


def test_a_timer_nine_thousand_years_away_pauses_the_pathway(make_user, actor) -> None:
    """The upload's lint now refuses "P9000Y"; a version stored before it did still runs for
    its patients, and reaching the timer pauses the pathway instead of a 500."""
    nurse = actor(make_user("cns", "coordinator"))
    make_user("manager")
    with pytest.raises(PathwayInvalidError):
        publish_hostile(timer('"P9000Y"'), "far-checked")
    version = publish_hostile(timer('"PT1H"'), "far")
    patient, task = patient_at_first_task(nurse, "far")
    stored = next(f for f in version.files if f.kind == "bpmn")  # as stored before the check
    stored.content = stored.content.replace(b'"PT1H"', b'"P9000Y"')
    version.sha256 = "0" * 64
    db.session.commit()
    with pytest.raises(PathwayFailedError):
        complete_task(nurse, task.id, {"size_cm": 3})
    instance = _instance(task.instance_id)
    assert instance.status == InstanceStatus.ERROR and instance.error_message
    assert ready_task(patient.id, ASSESS).id == task.id  # last good state
    paused = db.session.scalars(select(NotificationModel).where(NotificationModel.kind == "paused"))
    assert any(n.patient_id == patient.id for n in paused)  # the managers are told


def test_a_task_name_longer_than_its_column_never_strands_the_patient(make_user, actor) -> None:
    nurse = actor(make_user("cns", "coordinator"))
    long_name = "Review " + "very " * 80  # 407 characters; the column holds 300
    try:
        publish_hostile(user_task(long_name), "long")
    except PathwayInvalidError as refused:  # the upload's lint refuses it: defended earlier
        assert "long" in str(refused).lower()
        return
    patient, task = patient_at_first_task(nurse, "long")
    try:
        complete_task(nurse, task.id, {"size_cm": 3})
    except PathwayFailedError:
        instance = _instance(task.instance_id)
        assert instance.status == InstanceStatus.ERROR  # paused, not stranded
        assert "database" in instance.error_message
        assert ready_task(patient.id, ASSESS).id == task.id
    else:
        assert db.engine.dialect.name == "sqlite"  # PostgreSQL refuses the name
        assert any(t.name == long_name for t in ready_tasks(patient.id))


def test_the_api_answers_a_documented_error_naming_the_pause(
    make_user, actor, client: FlaskClient
) -> None:
    user = make_user("cns", "coordinator")
    nurse = actor(user)
    publish_hostile(script("while True:\n    pass"), "endless-api")
    _, task = patient_at_first_task(nurse, "endless-api")
    _, secret = create_token(SYSTEM, user.id, "tests")
    response = client.post(
        f"/api/v1/tasks/{task.id}/complete",
        json={"data": {"size_cm": 3}},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "pathway_paused"
    assert error["details"]["pathway_status"] == "paused"
    assert error["details"]["pathway_instance_id"] == task.instance_id
    assert "too long" in error["details"]["reason"]
    assert _instance(task.instance_id).status == InstanceStatus.ERROR


@pytest.mark.clock
def test_one_poisoned_patient_does_not_stop_the_others_escalations(make_user, actor) -> None:
    nurse = actor(make_user("cns", "coordinator"))
    make_user("manager")
    # Behind a timer: instructions that would render for ever, and a script that never ends.
    publish_hostile(timer('"PT1H"'), "poison-jinja", after_documentation=ENDLESS_TEMPLATE)
    publish_hostile(timer('"PT1H"'), "poison-script", then="while True:\n    pass")
    publish_hostile(timer('"PT1H"'), "good")
    with freeze_time(WORKING_MORNING, tick=True) as frozen:  # limits need time to pass
        patients = {}
        for index, key in enumerate(("poison-jinja", "poison-script", "good")):
            patient, task = patient_at_first_task(nurse, key, index)
            complete_task(nurse, task.id, {"size_cm": 3})
            patients[key] = (patient, task.instance_id)
        frozen.tick(timedelta(hours=2))
        started = time.monotonic()
        run_pass()  # the tick finishes
        assert time.monotonic() - started < 30
    good, good_instance = patients["good"]
    assert ready_task(good.id, AFTER)  # the good patient's pathway went on
    assert _instance(good_instance).status == InstanceStatus.RUNNING
    jinja, _ = patients["poison-jinja"]
    assert ready_task(jinja.id, AFTER).instructions == ENDLESS_TEMPLATE  # shown as written
    _, script_instance = patients["poison-script"]
    paused = _instance(script_instance)
    assert paused.status == InstanceStatus.ERROR and "too long" in paused.error_message


def test_a_save_that_fails_in_the_scheduler_pauses_that_patient(
    make_user, actor, monkeypatch
) -> None:
    nurse = actor(make_user("cns", "coordinator"))
    publish_hostile(timer('"PT1H"'), "save-fails")
    publish_hostile(timer('"PT1H"'), "save-works")
    with freeze_time(WORKING_MORNING, tick=True) as frozen:  # limits need time to pass
        _, task = patient_at_first_task(nurse, "save-fails", 0)
        complete_task(nurse, task.id, {"size_cm": 3})
        working, other = patient_at_first_task(nurse, "save-works", 1)
        complete_task(nurse, other.id, {"size_cm": 3})
        frozen.tick(timedelta(hours=2))
        import mdt.services.instances as instances

        real_save = instances._save

        def save(instance, run, now):  # a save the database refuses, for one patient
            if instance.id == task.instance_id:
                raise ValueError("the database refused the value")
            real_save(instance, run, now)

        monkeypatch.setattr(instances, "_save", save)
        assert fire_due(clock.now()) == 1
        assert fire_due(clock.now()) == 0  # paused: no longer due, not retried for ever
    paused = _instance(task.instance_id)
    assert paused.status == InstanceStatus.ERROR and "ValueError" in paused.error_message
    assert ready_task(working.id, AFTER)


@pytest.mark.clock
def test_the_scheduler_pass_keeps_to_its_time_budget(make_user, actor) -> None:
    nurse = actor(make_user("cns", "coordinator"))
    publish_hostile(timer('"PT1H"'), "slow", then="while True:\n    pass")
    publish_hostile(timer('"PT1H"'), "later")
    with freeze_time(WORKING_MORNING, tick=True) as frozen:  # limits need time to pass
        _, slow_task = patient_at_first_task(nurse, "slow", 0)
        complete_task(nurse, slow_task.id, {"size_cm": 3})
        frozen.tick(timedelta(minutes=1))  # due a minute after the slow one
        later, later_task = patient_at_first_task(nurse, "later", 1)
        complete_task(nurse, later_task.id, {"size_cm": 3})
        frozen.tick(timedelta(hours=2))
        fire_due(clock.now(), budget_seconds=0.5)  # spent on the slow one
        assert not any(t.name == AFTER for t in ready_tasks(later.id))  # left due...
        assert fire_due(clock.now()) == 1  # ...for the next pass
    assert ready_task(later.id, AFTER)
