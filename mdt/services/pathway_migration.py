"""Moving running patients from one published version of a pathway to a newer one.

First a dry run: what changed between the versions, and for every running patient on the
old one whether they can move or why not (the engine's safe policy: nothing they have
already done may change). Then one action moves every patient who can, one transaction per
patient, each audited; those who cannot stay on their version and carry on as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload

from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    PathwayStatus,
    PathwayVersionModel,
    PatientModel,
    TaskStatus,
)
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    PermissionDeniedError,
)
from mdt.services.instances import migrate_instance, plain_failure, record_failure
from mdt.services.pathways import engine_for, get_version
from workflows import (
    CompiledPathway,
    ElementChange,
    MigrationRefusedError,
    PathwayInvalidError,
    diff_pathways,
)

TIMER_CAVEAT = (
    "Timers a moved patient is waiting on (escalations, reviews) start again from the moment "
    "of the move."
)


@dataclass(frozen=True)
class PatientCheck:
    instance_id: int
    patient: PatientModel
    waiting_at: list[str]
    reasons: list[str]

    @property
    def movable(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class MigrationPlan:
    source: PathwayVersionModel
    target: PathwayVersionModel
    changes: list[ElementChange]
    patients: list[PatientCheck] = field(default_factory=list)

    @property
    def movable(self) -> list[PatientCheck]:
        return [p for p in self.patients if p.movable]


@dataclass(frozen=True)
class MigrationResult:
    moved: int
    stayed: int


def _versions(
    actor: Actor, source_id: int, target_id: int
) -> tuple[PathwayVersionModel, PathwayVersionModel]:
    if not actor.has_role(Role.MANAGER):
        raise PermissionDeniedError("Only service managers move patients between versions.")
    source, target = get_version(source_id), get_version(target_id)
    if source.key != target.key or source.id == target.id:
        raise InvalidInputError({"target": "Choose another version of the same pathway"})
    if target.status != PathwayStatus.PUBLISHED:
        raise ConflictError(f"Version {target.version} is {target.status}: publish it first.")
    return source, target


def _running(source: PathwayVersionModel) -> list[PathwayInstanceModel]:
    return list(
        db.session.scalars(
            select(PathwayInstanceModel)
            .options(joinedload(PathwayInstanceModel.patient))
            .where(
                PathwayInstanceModel.pathway_version_id == source.id,
                PathwayInstanceModel.status == InstanceStatus.RUNNING,
            )
            .order_by(PathwayInstanceModel.id)
        )
    )


def _waiting_at(instance_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(HumanTaskModel.name).where(
                HumanTaskModel.instance_id == instance_id,
                HumanTaskModel.status == TaskStatus.READY,
            )
        )
    )


@dataclass(frozen=True)
class Comparison:
    old: PathwayVersionModel
    new: PathwayVersionModel
    changes: list[ElementChange]
    by_file: dict[str, list[ElementChange]]  # diagram file -> the changes drawn on it

    def marks(self, file: str) -> dict[str, list[str]]:
        """Element ids to mark on one diagram, by kind of change."""
        found: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
        for change in self.by_file.get(file, []):
            found[change.change].append(change.element_id)
        return found


def compare_versions(old_id: int, new_id: int) -> Comparison:
    """What changed from one version to another (both must be valid to be compared), and
    on which diagram file each change is drawn."""
    old, new = get_version(old_id), get_version(new_id)
    if old.key != new.key:
        raise InvalidInputError({"with": "Choose another version of the same pathway"})
    try:
        changes = diff_pathways(engine_for(old).pathway, engine_for(new).pathway)
    except PathwayInvalidError:
        raise InvalidInputError(
            {"with": "One of these versions has problems; fix them before comparing."}
        ) from None
    by_file: dict[str, list[ElementChange]] = {}
    for change in changes:
        # Removed elements are drawn on the old version's file, the rest on the new one's.
        version = old if change.change == "removed" else new
        marker = f'id="{change.process}"'.encode()
        file = next((f.name for f in version.files if f.kind == "bpmn" and marker in f.content), "")
        by_file.setdefault(file, []).append(change)
    return Comparison(old, new, changes, by_file)


def plan_migration(actor: Actor, source_id: int, target_id: int) -> MigrationPlan:
    """The dry run: the differences, and for each running patient whether they can move."""
    source, target = _versions(actor, source_id, target_id)
    old, new = engine_for(source).pathway, engine_for(target).pathway
    plan = MigrationPlan(source, target, diff_pathways(old, new))
    for instance in _running(source):
        plan.patients.append(
            PatientCheck(
                instance.id,
                instance.patient,
                _waiting_at(instance.id),
                _blockers(actor, instance, old, target),
            )
        )
    return plan


def _blockers(
    actor: Actor, instance: PathwayInstanceModel, old: CompiledPathway, new: PathwayVersionModel
) -> list[str]:
    """Why this patient cannot move, read from the state in an engine worker. A state that
    cannot be read pauses that patient's pathway with the reason, as a failed run does, and
    the dry run says so for them rather than failing for everyone."""
    try:
        return engine_for(new).migration_blockers(instance.state, old)
    except (DomainError, OperationalError):
        raise
    except Exception as error:
        reason = str(plain_failure(error))
        record_failure(actor, instance.id, error)
        return [f"This patient's pathway is paused: {reason}"]


def migrate_all(actor: Actor, source_id: int, target_id: int) -> MigrationResult:
    """Move every running patient who can; one transaction and one audit row each."""
    source, target = _versions(actor, source_id, target_id)
    moved = stayed = 0
    for instance_id in [i.id for i in _running(source)]:
        try:
            migrate_instance(actor, instance_id, target)
        except (MigrationRefusedError, DomainError):  # refused, raced, or failed and marked
            db.session.rollback()
            stayed += 1
        else:
            moved += 1
    record_event(
        actor,
        "pathway.migration_run",
        object_type="pathway_version",
        object_id=target.id,
        detail={"from": source.version, "to": target.version, "moved": moved, "stayed": stayed},
    )
    db.session.commit()
    return MigrationResult(moved, stayed)


def move_running_to(actor: Actor, target: PathwayVersionModel) -> MigrationResult:
    """After an upgrade publishes a new version of a shipped pathway (e.g. one that adds its
    profile), move the running patients of every older version who can (the safe policy,
    as a manager's move); those who cannot stay where they are."""
    older = db.session.scalars(
        select(PathwayVersionModel.id)
        .join(
            PathwayInstanceModel, PathwayInstanceModel.pathway_version_id == PathwayVersionModel.id
        )
        .where(
            PathwayVersionModel.key == target.key,
            PathwayVersionModel.id != target.id,
            PathwayVersionModel.version < target.version,
            PathwayInstanceModel.status == InstanceStatus.RUNNING,
        )
        .distinct()
    )
    moved = stayed = 0
    for source_id in list(older):
        result = migrate_all(actor, source_id, target.id)
        moved, stayed = moved + result.moved, stayed + result.stayed
    return MigrationResult(moved, stayed)
