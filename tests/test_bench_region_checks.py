"""The region benchmark's database proof (``mdt.benchmarks.region_checks``) catches each kind
of loss and duplicate: every check is run against a real state where it holds, then against
the same state with one item lost, duplicated or left half-done, so the proof cannot pass
vacuously."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from mdt import clock
from mdt.benchmarks import region_checks as checks
from mdt.extensions import db
from mdt.models import (
    Hl7MessageModel,
    HumanTaskModel,
    InstanceStatus,
    NotificationModel,
    PathwayInstanceModel,
    TimerModel,
)
from mdt.services.actor import SYSTEM
from mdt.services.audit import record_event

from .helpers import NHS_NUMBERS, complete_with_examples, new_patient, ready_tasks


@pytest.fixture
def region(pathway: Any, make_user: Any, actor: Any) -> dict[str, Any]:
    """A patient registered and one task completed through the services, as the region's
    clients do over the API; the instant the run began."""
    coordinator = actor(make_user("coordinator", "cns", username="coord"))
    since = clock.now() - timedelta(seconds=1)
    patient = new_patient(coordinator, 0)
    done = ready_tasks(patient.id)[0]
    complete_with_examples(coordinator, done)
    instance = db.session.query(PathwayInstanceModel).filter_by(patient_id=patient.id).one()
    return {"patient": patient, "done": done.id, "instance": instance.id, "since": since}


def _clean(region: dict[str, Any]) -> dict[str, Any]:
    acks = checks.Acks(
        completions=[region["done"]], registrations=[(region["patient"].id, NHS_NUMBERS[0])]
    )
    return checks.prove(db.session, acks, [], region["since"], clock.now() - timedelta(hours=1))


def test_a_clean_run_holds(region) -> None:
    result = _clean(region)
    assert result["ok"], result["problems"]
    assert result["acknowledged"] == {"completions": 1, "registrations": 1, "hl7": 0}


def test_a_completion_not_stored_or_audited_twice_is_caught(region) -> None:
    still_ready = ready_tasks(region["patient"].id)[0].id
    assert checks.lost_completions(db.session, [region["done"]]) == []
    assert checks.lost_completions(db.session, [region["done"], still_ready]) == [still_ready]
    record_event(SYSTEM, "task.completed", object_type="human_task", object_id=region["done"])
    db.session.commit()
    assert checks.lost_completions(db.session, [region["done"]]) == [region["done"]]
    assert "lost_completions" in _clean(region)["problems"]


def test_a_registration_lost_renumbered_or_without_pathway_is_caught(
    region, make_user, actor
) -> None:
    patient_id = region["patient"].id
    assert checks.lost_registrations(db.session, [(patient_id, NHS_NUMBERS[0])]) == []
    assert checks.lost_registrations(db.session, [(patient_id, NHS_NUMBERS[1])]) == [patient_id]
    assert checks.lost_registrations(db.session, [(patient_id + 99, NHS_NUMBERS[0])]) == [
        patient_id + 99
    ]
    unstarted = new_patient(actor(make_user("coordinator", username="c2")), 2, start=False)
    assert checks.lost_registrations(db.session, [(unstarted.id, NHS_NUMBERS[2])]) == [unstarted.id]


def _hl7(control_id: str, ack_code: str, processed: bool = True) -> None:
    now = clock.now()
    db.session.add(
        Hl7MessageModel(
            control_id=control_id,
            message_type="ADT^A08",
            source="hl7",
            raw="MSH|...",
            received_at=now,
            processed_at=now if processed else None,
            outcome="applied" if ack_code == "AA" else "received",
            ack_code=ack_code,
        )
    )
    db.session.commit()


def test_an_acknowledged_message_not_applied_is_caught(region) -> None:
    patient = region["patient"]
    patient.address = "7 Region Road\nLeeds"
    db.session.commit()
    _hl7("M1", "AA")
    number = NHS_NUMBERS[0]
    assert checks.lost_hl7(db.session, [("M1", number, "7 Region Road")]) == []
    assert checks.lost_hl7(db.session, [("M1", number, "8 Region Road")]) == ["M1"]
    assert checks.lost_hl7(db.session, [("M2", number, "7 Region Road")]) == ["M2"]
    _hl7("M3", "AE")
    assert checks.lost_hl7(db.session, [("M3", number, "7 Region Road")]) == ["M3"]


def test_a_timer_fired_twice_or_never_is_caught(region) -> None:
    instance = region["instance"]
    acks = checks.Acks()
    due_before = clock.now() - timedelta(hours=1)
    result = checks.prove(db.session, acks, [instance], region["since"], due_before)
    assert result["timers_never_fired"] == [instance]
    for _ in range(2):
        record_event(
            SYSTEM, "pathway.timers_fired", object_type="pathway_instance", object_id=instance
        )
        db.session.commit()
        result = checks.prove(db.session, acks, [instance], region["since"], due_before)
        assert result["timers_never_fired"] == []
    assert result["timers_fired_twice"] == [instance]
    assert not result["ok"]


def test_a_step_made_twice_is_caught(region) -> None:
    instance, since = region["instance"], region["since"]
    assert checks.duplicate_tasks(db.session, [instance], since) == []
    task = ready_tasks(region["patient"].id)[0]
    copy = {c.key: getattr(task, c.key) for c in HumanTaskModel.__table__.columns}
    del copy["id"]
    copy["spiff_task_id"] = "a-second-firing"
    db.session.add(HumanTaskModel(**copy))
    db.session.commit()
    assert checks.duplicate_tasks(db.session, [instance], since) == [(instance, task.bpmn_id)]
    assert checks.duplicate_tasks(db.session, [instance], clock.now() + timedelta(1)) == []


def test_a_notification_told_twice_is_caught(region, make_user) -> None:
    user = make_user("manager", username="manager")
    for message in ("Paused: a script failed", "Paused: a script failed", "Another"):
        db.session.add(
            NotificationModel(
                user_id=user.id,
                kind="paused",
                patient_id=region["patient"].id,
                subject="pathway_version",
                subject_id=1,
                message=message,
            )
        )
    db.session.commit()
    duplicates = checks.duplicate_notifications(db.session)
    assert len(duplicates) == 1 and duplicates[0][-1] == "Paused: a script failed"


def test_work_left_half_done_is_caught(region) -> None:
    since, now = region["since"], clock.now()
    assert not any(checks.stuck(db.session, since, now - timedelta(hours=1)).values())
    _hl7("M9", "", processed=False)
    instance = db.session.get_one(PathwayInstanceModel, region["instance"])
    instance.status = InstanceStatus.ERROR
    instance.error_message = "The engine worker stopped"
    instance.updated_at = now
    db.session.add(TimerModel(instance_id=instance.id, event_name="late", due_at=now))
    db.session.commit()
    left = checks.stuck(db.session, since, now + timedelta(seconds=1))
    assert left["hl7_unprocessed"] == ["M9"]
    assert left["instances_paused"] == [[instance.id, "The engine worker stopped"]]
    assert instance.id in left["timers_overdue"]


def test_a_transaction_left_open_is_caught(region) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks held by another session: PostgreSQL")
    assert checks.held_locks(db.session, older_than_s=0.0) == []
    with db.engine.connect() as other:
        other.execute(
            text("SELECT id FROM pathway_instance WHERE id = :id FOR UPDATE"),
            {"id": region["instance"]},
        )
        held = checks.held_locks(db.session, older_than_s=0.0)
        assert len(held) == 1 and "FOR UPDATE" in held[0]["query"]
        other.rollback()
