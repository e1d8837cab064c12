"""What the patient record shows: a clinical summary and a timeline (its standards scorecard
is `patient_standards`).

All of it is read from the task table (answers kept with each completed task) and the audit
trail; no workflow is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import (
    AuditEventModel,
    EpisodeModel,
    HumanTaskModel,
    PathwayInstanceModel,
    TaskStatus,
)
from mdt.services.form_labels import answer_label, field_title
from mdt.services.pathways import engine_for, form_schema
from mdt.services.profiles import Profile, SummaryItem, profile_for

# A pathway without a profile summarises each form answered by its first few answers.
GENERIC_ANSWERS = 3

TIMELINE_ACTIONS = (
    "patient.registered",
    "pathway.started",
    "pathway.event",
    "pathway.closed",
    "pathway.error",
)


@dataclass(frozen=True)
class SummaryRow:
    label: str
    value: str
    source: str
    at: datetime | None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    title: str
    who: str
    kind: str  # completed, cancelled, event
    details: list[tuple[str, str]] = field(default_factory=list)
    task_id: int | None = None
    task: HumanTaskModel | None = None  # for the access policy: may the reader open it?


def completed_tasks(patient_id: int) -> list[HumanTaskModel]:
    """A patient's completed tasks, newest first: where every answer they gave is kept."""
    return list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(
                HumanTaskModel.patient_id == patient_id,
                HumanTaskModel.status == TaskStatus.COMPLETED,
            )
            .order_by(HumanTaskModel.completed_at.desc(), HumanTaskModel.id.desc())
        )
    )


def _schema(task: HumanTaskModel) -> dict[str, Any]:
    return form_schema(task.instance.pathway_version, task.form) or {"properties": {}}


@dataclass(frozen=True)
class _Source:
    """A completed task or a recorded event, as a source of answers for the summary."""

    name: str
    at: datetime | None
    data: dict[str, Any]
    schema: dict[str, Any]


def _sources(
    completed: Iterable[HumanTaskModel], episodes: Iterable[EpisodeModel]
) -> list[_Source]:
    sources = [_Source(t.name, t.completed_at, t.data or {}, _schema(t)) for t in completed]
    # An event recorded at the same moment as a task is newer (it was recorded after it).
    for episode in sorted(episodes, key=lambda e: e.id):
        if episode.data and episode.message:
            pathway = engine_for(episode.instance.pathway_version).pathway
            event = pathway.events.get(episode.message)
            schema = pathway.forms.get(event.form or "", {}) if event else {}
            sources.append(_Source(episode.label, episode.recorded_at, episode.data, schema))
    indexed = list(enumerate(sources))
    indexed.sort(key=lambda pair: (pair[1].at or datetime.min.replace(tzinfo=UTC), pair[0]))
    return [source for _, source in reversed(indexed)]


def clinical_summary(
    completed: Iterable[HumanTaskModel], episodes: Iterable[EpisodeModel] = ()
) -> list[SummaryRow]:
    """The summary rows of each pathway the answers come from, as its profile lists them
    (answers come from completed tasks and from recorded events, e.g. a progression's new
    sites and re-tested receptors)."""
    rows = []
    for profile, tasks, events in _by_pathway(list(completed), list(episodes)):
        newest_first = _sources(tasks, events)
        if profile.summary is None:
            rows += _generic_rows(newest_first)
            continue
        for item in profile.summary:
            row = (
                _every_answer(item, newest_first)
                if item.every_answer
                else _newest(item, newest_first)
            )
            if row is not None:
                rows.append(row)
    return rows


def _by_pathway(
    tasks: list[HumanTaskModel], episodes: list[EpisodeModel]
) -> list[tuple[Profile, list[HumanTaskModel], list[EpisodeModel]]]:
    """Answers grouped by pathway (its key), each with the profile of its newest instance's
    version: a patient moved to a new version is summarised by the new version's profile."""
    instances = {t.instance.id: t.instance for t in tasks} | {
        e.instance.id: e.instance for e in episodes
    }
    keys: dict[str, list[int]] = {}
    for instance_id in sorted(instances):
        keys.setdefault(instances[instance_id].pathway_version.key, []).append(instance_id)
    groups = []
    for ids in keys.values():
        profile = profile_for(instances[ids[-1]].pathway_version)
        own = set(ids)
        groups.append(
            (
                profile,
                [t for t in tasks if t.instance_id in own],
                [e for e in episodes if e.instance_id in own],
            )
        )
    return groups


def _newest(item: SummaryItem, newest_first: list[_Source]) -> SummaryRow | None:
    for source in newest_first:
        found = next((f for f in item.fields if source.data.get(f) not in (None, "", [])), None)
        if found:
            value = answer_label(source.schema, found, source.data[found])
            return SummaryRow(item.label, value, source.name, source.at)
    return None


def _every_answer(item: SummaryItem, newest_first: list[_Source]) -> SummaryRow | None:
    """Answers that add up (every site recorded so far), as they were found: the newest last."""
    seen: list[str] = []
    for source in reversed(newest_first):
        for name in item.fields:
            answers = source.data.get(name)
            if answers in (None, "", []):
                continue
            for one in answers if isinstance(answers, list) else [answers]:
                text = answer_label(
                    source.schema, name, [one] if isinstance(answers, list) else one
                )
                if text not in seen:
                    seen.append(text)
    if not seen:
        return None
    return SummaryRow(item.label, ", ".join(seen), item.source or "every answer recorded", None)


def _generic_rows(newest_first: list[_Source]) -> list[SummaryRow]:
    """Without a profile: each form answered (by its title), with its newest first answers."""
    rows, seen = [], set()
    for source in newest_first:
        title = str(source.schema.get("title") or source.name)
        answered = [(k, v) for k, v in source.data.items() if v not in (None, "", [])]
        if title in seen or not answered:
            continue
        seen.add(title)
        lines = [
            f"{field_title(source.schema, k)}: {answer_label(source.schema, k, v)}"
            for k, v in answered[:GENERIC_ANSWERS]
        ]
        rows.append(SummaryRow(title, "\n".join(lines), source.name, source.at))
    return rows


def _task_entry(task: HumanTaskModel) -> TimelineEntry:
    schema = _schema(task)
    details = [
        (field_title(schema, k), answer_label(schema, k, v)) for k, v in (task.data or {}).items()
    ]
    who = task.completed_by.display_name if task.completed_by else "the system"
    kind = "completed" if task.status == TaskStatus.COMPLETED else "cancelled"
    return TimelineEntry(
        task.completed_at or task.created_at, task.name, who, kind, details, task.id, task
    )


def _event_forms(patient_id: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each event's label and form, as the patient's pathways declare them."""
    forms: dict[str, tuple[str, dict[str, Any]]] = {}
    instances = db.session.scalars(
        select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient_id)
    )
    for instance in instances:
        pathway = engine_for(instance.pathway_version).pathway
        for event in pathway.events.values():
            forms[event.name] = (event.label, pathway.forms.get(event.form or "", {}))
    return forms


def _event_entry(
    row: AuditEventModel, forms: dict[str, tuple[str, dict[str, Any]]]
) -> TimelineEntry:
    detail = row.detail or {}
    titles = {
        "patient.registered": "Registered",
        "pathway.started": "Pathway started",
        "pathway.error": "Pathway paused by an error",
    }
    if row.action == "pathway.event":
        name = str(detail.get("message", ""))
        label, schema = forms.get(name, (f"Event: {name}", {}))
        payload = detail.get("payload") or {}
        details = [
            (field_title(schema, k), answer_label(schema, k, v))
            for k, v in payload.items()
            if k not in ("id", "kind") and v not in (None, "", [])
        ]
        return TimelineEntry(row.at, label, row.actor_name, "event", details)
    if row.action == "pathway.closed":
        reason = str(detail.get("reason", ""))
        title = f"Pathway closed: {reason.replace('_', ' ')}"
        details = [
            (k.replace("_", " ").capitalize(), _plain(v))
            for k, v in detail.items()
            if k != "reason"
        ]
        return TimelineEntry(row.at, title, row.actor_name, "event", details)
    title = titles.get(row.action, row.action)
    details = [("Error", str(detail["error"]))] if "error" in detail else []
    return TimelineEntry(row.at, title, row.actor_name, "event", details)


def timeline(
    patient_id: int, done: Iterable[HumanTaskModel], instance_ids: Iterable[int] | None = None
) -> list[TimelineEntry]:
    """The record's timeline; ``instance_ids``: only the events of these pathway instances
    (and the patient's own, such as the registration), for a patient on several pathways."""
    events = db.session.scalars(
        select(AuditEventModel).where(
            AuditEventModel.patient_id == patient_id, AuditEventModel.action.in_(TIMELINE_ACTIONS)
        )
    )
    forms = _event_forms(patient_id)
    ours = None if instance_ids is None else {str(i) for i in instance_ids}
    # A closure by the pathway's own event shows once, as that event with its answers.
    shown = [
        e
        for e in events
        if not (e.action == "pathway.closed" and (e.detail or {}).get("message"))
        and (ours is None or e.object_type != "pathway_instance" or e.object_id in ours)
    ]
    entries = [_task_entry(t) for t in done] + [_event_entry(e, forms) for e in shown]
    return sorted(entries, key=lambda e: e.at, reverse=True)


def _plain(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
