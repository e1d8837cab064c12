"""A PAS merge (ADT A40): two records are one person. Everything about the retired record
moves to the surviving one (every table with a ``patient_id``, found from the models, so a
table added later moves too), except what records history as it happened (the audit trail
and the PAS messages themselves). The retired record is kept, marked merged into the
survivor, and its NHS number and MRN become the survivor's identifiers too, so they still find
it. Nothing is deleted.

Two running pathways are never folded into one silently: the identity is merged, both
pathways stay where they are, and the coordinators are told to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from mdt import clock
from mdt.extensions import db
from mdt.models import PatientIdentifierModel, PatientModel
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import ConflictError
from mdt.services.notifications import tell_role
from mdt.services.pas.demographics import remember_identifier
from mdt.services.patient_events import running_instance

# History as it happened stays with the record it happened to.
NOT_MOVED = frozenset({"audit_event", "hl7_message", "patient_identifier"})


@dataclass
class MergeResult:
    moved: dict[str, int] = field(default_factory=dict)
    two_running_pathways: bool = False

    @property
    def note(self) -> str:
        if self.two_running_pathways:
            return (
                "Records merged; both had a running pathway, so both pathways were left as "
                "they were: a coordinator must decide which continues."
            )
        return "Records merged."


def patient_tables() -> list[tuple[str, object]]:
    """Every table with a ``patient_id`` column that moves in a merge."""
    return [
        (table.name, table)
        for table in db.metadata.sorted_tables
        if "patient_id" in table.c and table.name not in NOT_MOVED
    ]


def merge_patients(
    actor: Actor, survivor: PatientModel, retired: PatientModel, message_id: int | None
) -> MergeResult:
    """Fold ``retired`` into ``survivor``. Flushes; the caller commits."""
    if survivor.id == retired.id:
        raise ConflictError("The record to retire is the surviving record.")
    if retired.merged_into_id is not None:
        raise ConflictError("That record was already merged into another.")
    result = MergeResult()
    result.two_running_pathways = (
        running_instance(survivor.id) is not None and running_instance(retired.id) is not None
    )
    db.session.flush()
    if not result.two_running_pathways:
        for name, table in patient_tables():
            moved = db.session.execute(
                table.update()  # type: ignore[attr-defined]
                .where(table.c.patient_id == retired.id)  # type: ignore[attr-defined]
                .values(patient_id=survivor.id)
            ).rowcount
            if moved:
                result.moved[name] = moved
    retired.merged_into_id = survivor.id
    # The retired record's numbers (and every one it had) now find the survivor too.
    old = [("nhs", retired.nhs_number), ("mrn", retired.mrn)]
    old += [
        (row.system, row.value)
        for row in db.session.scalars(
            select(PatientIdentifierModel).where(PatientIdentifierModel.patient_id == retired.id)
        )
    ]
    for system, value in old:
        remember_identifier(retired.id, system, value, "merge")
        remember_identifier(survivor.id, system, value, "merge")
    if not survivor.mrn and retired.mrn:
        survivor.mrn = retired.mrn
    db.session.flush()
    db.session.expire_all()
    detail = {
        "survivor": survivor.id,
        "retired": retired.id,
        "moved": result.moved,
        "two_running_pathways": result.two_running_pathways,
        "message": message_id,
    }
    for patient_id in (survivor.id, retired.id):
        record_event(
            actor,
            "pas.patients_merged",
            patient_id=patient_id,
            object_type="patient",
            object_id=patient_id,
            detail=detail,
        )
    if result.two_running_pathways:
        tell_role(
            Role.COORDINATOR,
            "pas_merge",
            f"The PAS merged two records of {survivor.display_name} that both have a running "
            "pathway: both pathways were left as they were; decide which continues.",
            patient_id=survivor.id,
            subject=("patient", survivor.id),
            now=clock.now(),
        )
    return result
