"""Pathway instances: persistence, transactions, failures and concurrency."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from mdt import create_app
from mdt.extensions import db
from mdt.models import HumanTaskModel, InstanceStatus, PathwayInstanceModel, TaskStatus
from mdt.services.errors import ConflictError, InvalidInputError
from mdt.services.instances import close_pathway, complete_task, send_event

from .helpers import complete_with_examples, new_patient, ready_task, ready_tasks

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend


def test_instance_survives_an_app_restart(app: Flask, pathway, make_user, actor) -> None:
    coordinator = make_user("coordinator")
    patient = new_patient(actor(coordinator))
    complete_with_examples(
        actor(coordinator), ready_task(patient.id, "Register secondary diagnosis")
    )
    patient_id, who = patient.id, actor(coordinator)
    db.session.remove()

    restarted = create_app({"TESTING": True, "SECRET_KEY": "t" * 40})
    with restarted.app_context():
        from mdt.services import pathways

        pathways._engines.clear()  # a new process has no compiled pathway in memory
        task = ready_task(patient_id, "Allocate a CNS key worker")
        complete_with_examples(who, task)
        names = {t.name for t in HumanTaskModelQuery(patient_id)}
        assert "Allocate a CNS key worker" not in names
        assert {"List for MDT review", "First contact with key worker"} <= names
        db.session.remove()
        db.engine.dispose()


def HumanTaskModelQuery(patient_id: int) -> list[HumanTaskModel]:
    return list(
        db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.patient_id == patient_id, HumanTaskModel.status == TaskStatus.READY
            )
        )
    )


def test_invalid_data_changes_nothing(pathway, make_user, actor) -> None:
    coordinator = make_user("coordinator")
    patient = new_patient(actor(coordinator))
    task = ready_task(patient.id, "Register secondary diagnosis")
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    state_before, version_before = instance.state, instance.lock_version
    with pytest.raises(InvalidInputError) as caught:
        complete_task(actor(coordinator), task.id, {"ecog": 9})
    assert "index_date" in caught.value.errors
    db.session.expire_all()
    assert (instance.state, instance.lock_version) == (state_before, version_before)


def test_stale_instance_is_a_conflict_not_an_overwrite(pathway, make_user, actor) -> None:
    coordinator = make_user("coordinator")
    patient = new_patient(actor(coordinator))
    task = ready_task(patient.id, "Register secondary diagnosis")
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    # Another worker saves the instance between our read and our write.
    db.session.execute(
        PathwayInstanceModel.__table__.update()
        .where(PathwayInstanceModel.id == instance.id)
        .values(lock_version=instance.lock_version + 1)
    )
    from mdt.services.demo import example_answers as answers
    from mdt.services.pathways import form_schema

    from .helpers import example_answers  # noqa: F401 - re-exported for clarity

    with pytest.raises(ConflictError):
        complete_task(
            actor(coordinator), task.id, answers(form_schema(instance.pathway_version, task.form))
        )
    db.session.expire_all()
    assert db.session.get(HumanTaskModel, task.id).status == TaskStatus.READY


def test_progression_event_adds_an_assessment(pathway, make_user, actor) -> None:
    coordinator = make_user("coordinator")
    patient = new_patient(actor(coordinator))
    registration = ready_task(patient.id, "Register secondary diagnosis")
    with pytest.raises(ConflictError, match="not waiting for 'progression'"):
        send_event(actor(coordinator), registration.instance_id, "progression", {})
    complete_with_examples(actor(coordinator), registration)
    before = {t.id for t in ready_tasks(patient.id)}
    send_event(actor(coordinator), registration.instance_id, "progression", {"id": 999})
    new = [t for t in ready_tasks(patient.id) if t.id not in before]
    assert [t.name for t in new if t.role == "cns"] == ["Holistic needs assessment"]
    assert all(t.episode_id is None for t in new)  # no such episode: none is invented
    with pytest.raises(InvalidInputError):
        send_event(actor(coordinator), registration.instance_id, "marriage", {})


def test_closing_cancels_open_tasks(pathway, make_user, actor) -> None:
    coordinator = make_user("coordinator")
    patient = new_patient(actor(coordinator))
    task = ready_task(patient.id, "Register secondary diagnosis")
    close_pathway(actor(coordinator), task.instance_id, "death", {"date": "2026-11-20"})
    db.session.expire_all()
    assert db.session.get(HumanTaskModel, task.id).status == TaskStatus.CANCELLED
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    assert instance.status == InstanceStatus.CLOSED and instance.close_reason == "death"


def test_timer_fires_from_the_scheduler(pathway, make_user, actor, clock) -> None:
    from datetime import timedelta

    from mdt.models import TimerModel
    from mdt.services.scheduler import run_pass

    coordinator = make_user("coordinator")
    patient = new_patient(actor(coordinator))
    complete_with_examples(
        actor(coordinator), ready_task(patient.id, "Register secondary diagnosis")
    )
    timer = db.session.scalars(
        select(TimerModel).where(TimerModel.event_name == "Not allocated in 2 working days")
    ).one()
    clock.move_to(timer.due_at - timedelta(minutes=1))
    assert run_pass().advanced == 0  # not due yet
    clock.move_to(timer.due_at + timedelta(minutes=1))
    assert run_pass().advanced == 1
    assert run_pass().advanced == 0  # fired once
    assert ready_task(patient.id, "Escalation: no key worker allocated").role == "manager"
    assert ready_task(patient.id, "Allocate a CNS key worker")  # non-interrupting
