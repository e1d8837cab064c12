"""A synthetic cohort spread over every stage of the pathway.

A few template patients per stage are taken through the real services (registration,
task completion with form validation, events). The rest of the cohort are copies of those
templates' stored rows (patient, instance state, tasks, timers), made with bulk inserts, so
that 10,000 patients take seconds rather than many minutes. Every operation the benchmark
then measures runs through the real engine and services.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from mdt import clock
from mdt.extensions import db
from mdt.models import (
    EpisodeModel,
    HumanTaskModel,
    PathwayInstanceModel,
    PatientModel,
    TaskStatus,
    TimerModel,
)
from mdt.models.meeting import AttendanceModel, ListingModel, MeetingModel, MeetingStatus
from mdt.services.actor import Actor
from mdt.services.demo import example_answers
from mdt.services.instances import complete_task
from mdt.services.nhs_number import check_digit_ok
from mdt.services.outside_meetings import DecidingClinician, OutsideMeeting, needs_declaration
from mdt.services.pathways import engine_for, form_schema
from mdt.services.patient_events import record_patient_event
from mdt.services.patient_identity import search_name
from mdt.services.patients import register_patient

HIGH_NEEDS = {
    "offer": "01",
    "distress": 8,
    "emotional": 7,
    "practical": 6,
    "family": 6,
    "uncontrolled_symptoms": True,
    "palliative_information_given": True,
}
# Stage name -> how many tasks to complete (oldest first) and answers that differ by form.
STAGES: list[tuple[str, int, dict[str, dict[str, Any]], str | None]] = [
    ("registered", 0, {}, None),
    ("allocating key worker", 1, {}, None),
    ("first contact and MDT", 2, {}, None),
    ("needs assessment", 3, {}, None),
    ("referrals", 6, {"holistic-needs-assessment.schema.json": HIGH_NEEDS}, None),
    ("treatment planning", 8, {}, None),
    ("care plan", 9, {}, None),
    ("palliative care", 14, {"holistic-needs-assessment.schema.json": HIGH_NEEDS}, None),
    ("under review", 10, {}, None),
    ("progressed", 10, {}, "progression"),
]


def nhs_numbers(count: int, start: int = 9990000000) -> list[str]:
    numbers: list[str] = []
    candidate = start
    while len(numbers) < count:
        candidate += 1
        if check_digit_ok(str(candidate)):
            numbers.append(str(candidate))
    return numbers


# The templates' MDT outcomes are recorded straight away, so outside a meeting (the meeting
# history added later confirms clones' outcomes at meetings).
DECIDED_OUTSIDE = OutsideMeeting(
    "Benchmark cohort: decided between meetings",
    (
        DecidingClinician("Bench Oncologist", "oncology"),
        DecidingClinician("Bench Nurse", "breast CNS"),
    ),
)


def _advance(
    actor: Actor, patient_id: int, steps: int, overrides: dict[str, dict[str, Any]]
) -> None:
    for _ in range(steps):
        task = db.session.scalar(
            select(HumanTaskModel)
            .where(
                HumanTaskModel.patient_id == patient_id, HumanTaskModel.status == TaskStatus.READY
            )
            .order_by(HumanTaskModel.id)
            .limit(1)
        )
        if task is None:
            return
        schema = form_schema(task.instance.pathway_version, task.form) or {}
        complete_task(
            actor,
            task.id,
            {**example_answers(schema), **overrides.get(task.form or "", {})},
            DECIDED_OUTSIDE if needs_declaration(task) else None,
        )


def build_templates(actor: Actor, numbers: list[str]) -> list[int]:
    """One patient per stage through the real services; returns their patient ids."""
    ids = []
    for index, (_, steps, overrides, event) in enumerate(STAGES):
        patient = register_patient(
            actor,
            numbers[index],
            "Template",
            f"Stage{index}",
            date(1955 + index, 1 + index % 12, 1 + index),
            "Bench Surgery",
        )
        _advance(actor, patient.id, steps, overrides)
        if event:
            _record(actor, patient.id, event)
        ids.append(patient.id)
    return ids


def _record(actor: Actor, patient_id: int, name: str) -> None:
    """An event the pathway declares, answered with its form's examples, dated today."""
    instance = db.session.scalar(
        select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient_id)
    )
    assert instance is not None
    pathway = engine_for(instance.pathway_version).pathway
    event = pathway.events[name]
    answers = example_answers(pathway.forms[event.form or ""])
    if event.date_field:
        answers[event.date_field] = clock.today().isoformat()
    record_patient_event(actor, patient_id, name, answers)


def _rows(model: Any, where: Any) -> list[dict[str, Any]]:
    table = model.__table__
    return [dict(row._mapping) for row in db.session.execute(select(table).where(where))]


HISTORY_DAYS = 330
_TASK_TIMES = ("created_at", "due_at", "completed_at", "draft_saved_at")


def _shifted(value: Any, days: int) -> Any:
    """Every ISO date in a task's answers or context, moved back by ``days``."""
    if isinstance(value, dict):
        return {k: _shifted(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_shifted(v, days) for v in value]
    if isinstance(value, str) and len(value) == 10:
        try:
            return (date.fromisoformat(value) - timedelta(days=days)).isoformat()
        except ValueError:
            return value
    return value


def _earlier(task: dict[str, Any], days: int) -> dict[str, Any]:
    """A task row moved back in time, with the dates in its form data and context too."""
    moved = {k: task[k] - timedelta(days=days) if task[k] else None for k in _TASK_TIMES}
    return {
        **task,
        **moved,
        "data": _shifted(task["data"], days),
        "context": _shifted(task.get("context"), days),
    }


def clone(template_ids: list[int], numbers: list[str], seed: int = 11) -> None:
    """Copies of the templates, round robin, one per NHS number, in batches. Each copy's
    history is moved back by up to HISTORY_DAYS so that reports see a year of patients."""
    rng = random.Random(seed)
    templates: list[dict[str, Any]] = []
    for patient_id in template_ids:
        instance = _rows(PathwayInstanceModel, PathwayInstanceModel.patient_id == patient_id)[0]
        templates.append(
            {
                "patient": _rows(PatientModel, PatientModel.id == patient_id)[0],
                "instance": instance,
                "tasks": _rows(HumanTaskModel, HumanTaskModel.instance_id == instance["id"]),
                "episodes": _rows(EpisodeModel, EpisodeModel.instance_id == instance["id"]),
                "timers": _rows(TimerModel, TimerModel.instance_id == instance["id"]),
            }
        )
    next_patient = (db.session.scalar(select(db.func.max(PatientModel.id))) or 0) + 1
    next_instance = (db.session.scalar(select(db.func.max(PathwayInstanceModel.id))) or 0) + 1
    next_episode = (db.session.scalar(select(db.func.max(EpisodeModel.id))) or 0) + 1
    batch: dict[str, list[dict[str, Any]]] = {"p": [], "i": [], "e": [], "t": [], "m": []}
    for index, number in enumerate(numbers):
        template = templates[index % len(templates)]
        patient_id, instance_id = next_patient + index, next_instance + index
        days_ago = rng.randrange(HISTORY_DAYS)
        given, family = rng.choice(["Ada", "Grace", "Mary", "Rosalind"]), f"Bench{index:05d}"
        batch["p"].append(
            {
                **template["patient"],
                "id": patient_id,
                "nhs_number": number,
                "given_name": given,
                "family_name": family,
                "search_name": search_name(given, family),  # as registration keeps it
            }
        )
        index_date = template["instance"]["index_date"]
        batch["i"].append(
            {
                **template["instance"],
                "id": instance_id,
                "patient_id": patient_id,
                "index_date": index_date - timedelta(days=days_ago) if index_date else None,
            }
        )
        episodes = {}  # the template's episode id -> the copy's
        for episode in template["episodes"]:
            episodes[episode["id"]] = next_episode
            started = episode["started_on"]
            batch["e"].append(
                {
                    **episode,
                    "id": next_episode,
                    "instance_id": instance_id,
                    "patient_id": patient_id,
                    "started_on": started - timedelta(days=days_ago) if started else None,
                    "recorded_at": episode["recorded_at"] - timedelta(days=days_ago),
                }
            )
            next_episode += 1
        for task in template["tasks"]:
            batch["t"].append(
                {
                    **{k: v for k, v in _earlier(task, days_ago).items() if k != "id"},
                    "instance_id": instance_id,
                    "patient_id": patient_id,
                    "episode_id": episodes.get(task["episode_id"]),
                }
            )
        for timer in template["timers"]:
            batch["m"].append(
                {**{k: v for k, v in timer.items() if k != "id"}, "instance_id": instance_id}
            )
        if len(batch["p"]) >= 1000:
            _flush(batch)
    _flush(batch)
    if db.engine.dialect.name == "postgresql":
        # Rows were inserted with explicit ids: move the sequences past them.
        for table in ("patient", "pathway_instance", "episode"):
            db.session.execute(
                db.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    db.session.commit()


def _flush(batch: dict[str, list[dict[str, Any]]]) -> None:
    for key, model in (
        ("p", PatientModel),
        ("i", PathwayInstanceModel),
        ("e", EpisodeModel),
        ("t", HumanTaskModel),
        ("m", TimerModel),
    ):
        if batch[key]:
            db.session.execute(insert(model.__table__), batch[key])
            batch[key] = []


CORE = ("oncology", "palliative care", "breast CNS", "radiology", "pathology", "surgery")


def meeting_history(weeks: int = 52, per_meeting: int = 20, seed: int = 13) -> int:
    """A year of weekly meetings held, each with listings, outcomes and attendance, and the
    next one planned (its list built from the pathway when the coordinator opens it)."""
    rng = random.Random(seed)
    outcomes = list(
        db.session.scalars(
            select(HumanTaskModel.id).where(
                HumanTaskModel.mdt_step == "outcome",
                HumanTaskModel.status == TaskStatus.COMPLETED,
            )
        )
    )
    patient_of = dict(
        db.session.execute(
            select(HumanTaskModel.id, HumanTaskModel.patient_id).where(
                HumanTaskModel.id.in_(outcomes)
            )
        ).all()
    )
    now = datetime.now(UTC).replace(hour=13, minute=0, second=0, microsecond=0)
    for week in range(weeks, 0, -1):
        starts = now - timedelta(weeks=week)
        meeting = MeetingModel(
            title="Secondary breast MDT",
            starts_at=starts,
            cut_off_at=starts - timedelta(days=1),
            status=MeetingStatus.CLOSED,
            circulated_at=starts - timedelta(hours=rng.choice([20, 26, 30])),
            closed_at=starts + timedelta(hours=2),
        )
        db.session.add(meeting)
        db.session.flush()
        chosen = rng.sample(outcomes, min(per_meeting, len(outcomes)))
        for position, task_id in enumerate(chosen):
            db.session.add(
                ListingModel(
                    meeting_id=meeting.id,
                    patient_id=patient_of[task_id],
                    task_id=task_id,
                    position=position,
                    status="confirmed",
                    late=position >= per_meeting - 2,
                    late_reason="Urgent" if position >= per_meeting - 2 else None,
                    outcome={"recommendation": "Continue treatment"},
                    confirmed_at=starts + timedelta(minutes=5 * position),
                )
            )
        for discipline in CORE:
            db.session.add(
                AttendanceModel(
                    meeting_id=meeting.id,
                    name=f"Dr {discipline.title()}",
                    discipline=discipline,
                    present=rng.random() < 0.85,
                )
            )
    upcoming = now + timedelta(days=3)
    db.session.add(
        MeetingModel(
            title="Secondary breast MDT",
            starts_at=upcoming,
            cut_off_at=upcoming - timedelta(days=1),
        )
    )
    db.session.commit()
    return weeks
