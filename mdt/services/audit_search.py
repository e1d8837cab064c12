"""Managers search the audit trail (read only; each search is itself audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select

from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import AuditEventModel, PatientModel
from mdt.models.roles import Role
from mdt.services import nhs_number
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import PermissionDeniedError

PAGE = 100


@dataclass(frozen=True)
class AuditQuery:
    username: str = ""
    action: str = ""
    patient: str = ""  # NHS number
    since: date | None = None
    until: date | None = None


def search_audit(actor: Actor, query: AuditQuery) -> list[tuple[AuditEventModel, str | None]]:
    """Newest first, at most PAGE rows, each with the patient's NHS number when there is one."""
    if not actor.has_role(Role.MANAGER):
        raise PermissionDeniedError("Only managers can search the audit trail.")
    statement = (
        select(AuditEventModel, PatientModel.nhs_number)
        .outerjoin(PatientModel, PatientModel.id == AuditEventModel.patient_id)
        .order_by(AuditEventModel.at.desc(), AuditEventModel.id.desc())
        .limit(PAGE)
    )
    if query.username.strip():
        statement = statement.where(AuditEventModel.actor_name == query.username.strip().lower())
    if query.action.strip():
        statement = statement.where(AuditEventModel.action.startswith(query.action.strip()))
    if query.patient.strip():
        statement = statement.where(PatientModel.nhs_number == nhs_number.normalise(query.patient))
    if query.since:
        statement = statement.where(
            AuditEventModel.at >= datetime.combine(query.since, time.min, tzinfo=LONDON)
        )
    if query.until:
        statement = statement.where(
            AuditEventModel.at <= datetime.combine(query.until, time.max, tzinfo=LONDON)
        )
    rows: list[tuple[AuditEventModel, str | None]] = [
        (event, number) for event, number in db.session.execute(statement).all()
    ]
    record_event(
        actor,
        "audit.searched",
        detail={
            "username": query.username,
            "action": query.action,
            "patient": query.patient,
            "since": str(query.since or ""),
            "until": str(query.until or ""),
            "rows": len(rows),
        },
    )
    db.session.commit()
    return rows
