"""The region scenario's proof, read from the database after the run: every acknowledged
change is there, no timer fired twice, no notification was made twice, nothing is left
locked or half-done. Each check returns the offending items (empty: it holds), so a test can
run it against a crafted state and see it catch a loss or a duplicate."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, scoped_session

from mdt.models import (
    AuditEventModel,
    Hl7MessageModel,
    HumanTaskModel,
    NotificationModel,
    PathwayInstanceModel,
    PatientModel,
    TaskStatus,
    TimerModel,
)

# The checks read through any session: the benchmark's and the tests' is Flask-SQLAlchemy's.
Reader = Session | scoped_session[Any]


@dataclass
class Acks:
    """What the clients were told succeeded (2xx answers, HL7 AA acknowledgements)."""

    completions: list[int] = field(default_factory=list)  # task ids answered 200
    registrations: list[tuple[int, str]] = field(default_factory=list)  # (patient id, NHS no.)
    hl7: list[tuple[str, str, str]] = field(default_factory=list)  # (control id, NHS no., line)


def lost_completions(session: Reader, task_ids: list[int]) -> list[int]:
    """Tasks answered 200 that are not completed, or whose completion was not audited once."""
    if not task_ids:
        return []
    done = set(
        session.scalars(
            select(HumanTaskModel.id).where(
                HumanTaskModel.id.in_(task_ids), HumanTaskModel.status == TaskStatus.COMPLETED
            )
        )
    )
    audited = Counter(
        session.scalars(
            select(AuditEventModel.object_id).where(
                AuditEventModel.action == "task.completed",
                AuditEventModel.object_id.in_([str(i) for i in task_ids]),
            )
        )
    )
    return sorted(i for i in set(task_ids) if i not in done or audited[str(i)] != 1)


def lost_registrations(session: Reader, registrations: list[tuple[int, str]]) -> list[int]:
    """Patients answered 201 that are missing, hold another NHS number, or have no pathway."""
    if not registrations:
        return []
    ids = [patient_id for patient_id, _ in registrations]
    stored = dict(
        session.execute(
            select(PatientModel.id, PatientModel.nhs_number).where(PatientModel.id.in_(ids))
        ).all()
    )
    started = set(
        session.scalars(
            select(PathwayInstanceModel.patient_id).where(PathwayInstanceModel.patient_id.in_(ids))
        )
    )
    return sorted(
        patient_id
        for patient_id, number in registrations
        if stored.get(patient_id) != number or patient_id not in started
    )


def lost_hl7(session: Reader, acks: list[tuple[str, str, str]]) -> list[str]:
    """Messages answered AA that are not stored as applied, or whose address line did not
    reach the patient (one message per patient in the scenario, so it is the last)."""
    if not acks:
        return []
    rows = dict(
        session.execute(
            select(Hl7MessageModel.control_id, Hl7MessageModel.ack_code).where(
                Hl7MessageModel.control_id.in_([c for c, _, _ in acks])
            )
        ).all()
    )
    addresses = dict(
        session.execute(
            select(PatientModel.nhs_number, PatientModel.address).where(
                PatientModel.nhs_number.in_([n for _, n, _ in acks])
            )
        ).all()
    )
    return sorted(
        control
        for control, number, line in acks
        if rows.get(control) != "AA" or line not in (addresses.get(number) or "")
    )


def timer_firings(session: Reader, instance_ids: list[int]) -> Counter[int]:
    """How many times each instance's timers were fired by a scheduler."""
    fired: Counter[int] = Counter({i: 0 for i in instance_ids})
    for object_id in session.scalars(
        select(AuditEventModel.object_id).where(
            AuditEventModel.action == "pathway.timers_fired",
            AuditEventModel.object_id.in_([str(i) for i in instance_ids]),
        )
    ):
        fired[int(str(object_id))] += 1
    return fired


def duplicate_tasks(
    session: Reader, instance_ids: list[int], since: datetime
) -> list[tuple[int, str]]:
    """(instance, step) pairs where one step was made more than once since ``since`` among
    the instances whose timers fell due: what a timer fired twice leaves (the table's own
    unique key stops only a repeat of the same engine task id)."""
    if not instance_ids:
        return []
    query = (
        select(HumanTaskModel.instance_id, HumanTaskModel.bpmn_id)
        .where(HumanTaskModel.instance_id.in_(instance_ids), HumanTaskModel.created_at >= since)
        .group_by(HumanTaskModel.instance_id, HumanTaskModel.bpmn_id)
        .having(func.count(HumanTaskModel.id) > 1)
    )
    return [(int(i), str(s)) for i, s in session.execute(query).all()]


def duplicate_notifications(session: Reader) -> list[tuple[Any, ...]]:
    """Notifications told twice: the same task and kind to one person, or the same event
    (kind, subject, patient and words) to one person."""
    n = NotificationModel
    key = (n.user_id, n.task_id, n.kind, n.subject, n.subject_id, n.patient_id, n.message)
    query = select(*key).group_by(*key).having(func.count(n.id) > 1)
    return [tuple(row) for row in session.execute(query).all()]


def stuck(session: Reader, since: datetime, due_before: datetime) -> dict[str, list[Any]]:
    """Work claimed and never finished: HL7 messages received but not processed (a listener
    killed mid-message would leave one if its claim had committed), pathways paused or in
    error since the run began, and timers still due well after the schedulers came back."""
    return {
        "hl7_unprocessed": list(
            session.scalars(
                select(Hl7MessageModel.control_id).where(Hl7MessageModel.processed_at.is_(None))
            )
        ),
        "instances_paused": [
            list(row)
            for row in session.execute(
                select(PathwayInstanceModel.id, PathwayInstanceModel.error_message).where(
                    PathwayInstanceModel.status.not_in(["running", "completed", "closed"]),
                    PathwayInstanceModel.updated_at >= since,
                )
            )
        ],
        "timers_overdue": list(
            session.scalars(select(TimerModel.instance_id).where(TimerModel.due_at <= due_before))
        ),
    }


def held_locks(session: Reader, older_than_s: float = 5.0) -> list[dict[str, Any]]:
    """PostgreSQL sessions on this database still inside a transaction (holding whatever row
    locks it took) for longer than ``older_than_s`` once the load has stopped."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    # The statistics views are a snapshot per transaction: take a fresh one.
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    rows = session.execute(
        text(
            "SELECT pid, state, clock_timestamp() - xact_start AS age, left(query, 120) AS query "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
            "AND clock_timestamp() - xact_start > make_interval(secs => :age)"
        ),
        {"age": older_than_s},
    )
    return [dict(row._mapping) for row in rows]


def prove(
    session: Reader,
    acks: Acks,
    timer_instances: list[int],
    since: datetime,
    due_before: datetime,
) -> dict[str, Any]:
    """Every check; ``ok`` is true only when each holds."""
    fired = timer_firings(session, timer_instances)
    result: dict[str, Any] = {
        "acknowledged": {
            "completions": len(acks.completions),
            "registrations": len(acks.registrations),
            "hl7": len(acks.hl7),
        },
        "lost_completions": lost_completions(session, acks.completions),
        "lost_registrations": lost_registrations(session, acks.registrations),
        "lost_hl7": lost_hl7(session, acks.hl7),
        "timers_due": len(timer_instances),
        "timers_fired_once": sum(1 for c in fired.values() if c == 1),
        "timers_fired_twice": sorted(i for i, c in fired.items() if c > 1),
        "timers_never_fired": sorted(i for i, c in fired.items() if c == 0),
        "duplicate_tasks": duplicate_tasks(session, timer_instances, since),
        "duplicate_notifications": duplicate_notifications(session),
        "held_locks": held_locks(session),
        **stuck(session, since, due_before),
    }
    problems = [k for k, v in result.items() if isinstance(v, list) and v]
    result["problems"] = problems
    result["ok"] = not problems
    return result
