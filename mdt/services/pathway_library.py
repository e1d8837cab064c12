"""Reading published pathways: versions, their files and what each task evidences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from mdt.extensions import db
from mdt.models import (
    InstanceStatus,
    PathwayFileModel,
    PathwayInstanceModel,
    PathwayStatus,
    PathwayVersionModel,
)
from mdt.services.errors import NotFoundError


def list_versions() -> list[PathwayVersionModel]:
    return list(
        db.session.scalars(
            select(PathwayVersionModel).order_by(
                PathwayVersionModel.key, PathwayVersionModel.version.desc()
            )
        )
    )


def running_counts() -> dict[int, int]:
    """How many patients are running on each version (an indexed count per version)."""
    rows = db.session.execute(
        select(PathwayInstanceModel.pathway_version_id, func.count())
        .where(PathwayInstanceModel.status == InstanceStatus.RUNNING)
        .group_by(PathwayInstanceModel.pathway_version_id)
    )
    return {version_id: count for version_id, count in rows}


def current_versions() -> dict[str, int]:
    """The published version's id for each pathway key."""
    rows = db.session.execute(
        select(PathwayVersionModel.key, PathwayVersionModel.id).where(
            PathwayVersionModel.status == PathwayStatus.PUBLISHED
        )
    )
    return {key: version_id for key, version_id in rows}


def previous_version(version: PathwayVersionModel) -> PathwayVersionModel | None:
    """The version of the same pathway numbered just before this one."""
    return db.session.scalar(
        select(PathwayVersionModel)
        .where(
            PathwayVersionModel.key == version.key,
            PathwayVersionModel.version < version.version,
        )
        .order_by(PathwayVersionModel.version.desc())
    )


def pathway_file(version_id: int, name: str) -> PathwayFileModel:
    found = db.session.scalar(
        select(PathwayFileModel).where(
            PathwayFileModel.pathway_version_id == version_id, PathwayFileModel.name == name
        )
    )
    if found is None:
        raise NotFoundError("No such pathway file")
    return found


@dataclass(frozen=True)
class DiagramState:
    """What to show on a patient's pathway diagram: which elements are done and current."""

    version_id: int
    file_name: str
    completed: list[str]
    current: list[str]


def diagram_for(record: Any) -> DiagramState | None:
    """The main diagram of the patient's latest pathway, with done and current elements."""
    if not record.instances:
        return None
    instance = record.instances[0]
    version = instance.pathway_version
    marker = f'id="{version.process_id}"'.encode()
    main = next((f for f in version.files if f.kind == "bpmn" and marker in f.content), None)
    if main is None:
        return None
    mine = [t for t in record.open_tasks + record.history if t.instance_id == instance.id]
    done = [t for t in mine if t.status == "completed"]
    ready = [t for t in mine if t.status == "ready"]
    # A task inside a called process lights up the call activity that called it.
    current = {t.bpmn_id for t in ready} | {p for t in ready for p in t.call_path.split()}
    completed = {t.bpmn_id for t in done} | {p for t in done for p in t.call_path.split()}
    return DiagramState(
        version_id=version.id,
        file_name=main.name,
        completed=sorted(completed - current),
        current=sorted(current),
    )
