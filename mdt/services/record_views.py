"""What the patient record shows: a clinical summary, a timeline and the standards scorecard.

All of it is read from the task table (answers kept with each completed task) and the audit
trail; no workflow is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import (
    AuditEventModel,
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    TaskStatus,
)
from mdt.models.standards import STANDARDS
from mdt.services.form_labels import answer_label, field_title
from mdt.services.pathways import form_schema

# (label, the fields that can answer it, newest answer wins)
SUMMARY_ITEMS: list[tuple[str, tuple[str, ...]]] = [
    ("Secondary diagnosis confirmed", ("index_date",)),
    ("Metastatic sites", ("sites",)),
    ("ER", ("er_status",)),
    ("PR", ("pr_status",)),
    ("HER2", ("her2_status",)),
    ("Performance status", ("ecog", "performance_status")),
    ("Treatment intent", ("treatment_intent",)),
    ("Planned treatment", ("planned_treatment",)),
    ("Care plan agreed", ("agreed_on",)),
    ("Next steps", ("next_steps",)),
    ("What matters to the patient", ("what_matters",)),
]
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


@dataclass(frozen=True)
class StandardStatus:
    code: str
    label: str
    state: str  # met, in-progress, not-yet, not-applicable
    at: datetime | None
    task_name: str | None


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


def clinical_summary(completed: Iterable[HumanTaskModel]) -> list[SummaryRow]:
    newest_first = sorted(completed, key=lambda t: (t.completed_at, t.id), reverse=True)
    rows = []
    for label, fields in SUMMARY_ITEMS:
        for task in newest_first:
            found = next(
                (f for f in fields if (task.data or {}).get(f) not in (None, "", [])), None
            )
            if found:
                rows.append(
                    SummaryRow(
                        label,
                        answer_label(_schema(task), found, (task.data or {})[found]),
                        task.name,
                        task.completed_at,
                    )
                )
                break
    return rows


def _task_entry(task: HumanTaskModel) -> TimelineEntry:
    schema = _schema(task)
    details = [
        (field_title(schema, k), answer_label(schema, k, v)) for k, v in (task.data or {}).items()
    ]
    who = task.completed_by.display_name if task.completed_by else "the system"
    kind = "completed" if task.status == TaskStatus.COMPLETED else "cancelled"
    return TimelineEntry(
        task.completed_at or task.created_at, task.name, who, kind, details, task.id
    )


def _event_entry(row: AuditEventModel) -> TimelineEntry:
    from mdt.services.patient_events import EVENT_KINDS

    detail = row.detail or {}
    titles = {
        "patient.registered": "Registered",
        "pathway.started": "Pathway started",
        "pathway.error": "Pathway paused by an error",
    }
    if row.action == "pathway.event":
        kind = EVENT_KINDS.get(detail.get("message", ""))
        title = kind.label if kind else f"Event: {detail.get('message')}"
        details = [
            (k.replace("_", " ").capitalize(), _plain(v))
            for k, v in (detail.get("payload") or {}).items()
        ]
    elif row.action == "pathway.closed":
        kind = EVENT_KINDS.get(detail.get("reason", ""))
        title = f"Pathway closed: {kind.label.lower() if kind else detail.get('reason')}"
        details = [
            (k.replace("_", " ").capitalize(), _plain(v))
            for k, v in detail.items()
            if k != "reason"
        ]
    else:
        title = titles.get(row.action, row.action)
        details = [("Error", str(detail["error"]))] if "error" in detail else []
    return TimelineEntry(row.at, title, row.actor_name, "event", details)


def _plain(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def timeline(patient_id: int, done: Iterable[HumanTaskModel]) -> list[TimelineEntry]:
    events = db.session.scalars(
        select(AuditEventModel).where(
            AuditEventModel.patient_id == patient_id, AuditEventModel.action.in_(TIMELINE_ACTIONS)
        )
    )
    entries = [_task_entry(t) for t in done] + [_event_entry(e) for e in events]
    return sorted(entries, key=lambda e: e.at, reverse=True)


def scorecard(
    tasks: Iterable[HumanTaskModel], instances: Iterable[PathwayInstanceModel]
) -> list[StandardStatus]:
    tasks = list(tasks)
    finished = all(i.status != InstanceStatus.RUNNING for i in instances)
    statuses = []
    for code, label in STANDARDS.items():
        carrying = [t for t in tasks if code in t.standard_codes]
        done = sorted(
            (t for t in carrying if t.status == TaskStatus.COMPLETED),
            key=lambda t: t.completed_at or t.created_at,
        )
        open_ = sorted(
            (t for t in carrying if t.status == TaskStatus.READY),
            key=lambda t: (t.due_at is None, t.due_at),
        )
        if done:
            statuses.append(StandardStatus(code, label, "met", done[0].completed_at, done[0].name))
        elif open_:
            statuses.append(
                StandardStatus(code, label, "in-progress", open_[0].due_at, open_[0].name)
            )
        else:
            statuses.append(
                StandardStatus(code, label, "not-applicable" if finished else "not-yet", None, None)
            )
    return statuses
