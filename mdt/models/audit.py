from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from mdt import clock
from mdt.extensions import db
from mdt.models.types import UTCDateTime


class AuditEventModel(db.Model):  # type: ignore[name-defined,misc]
    """Append-only: who did or saw what, when, from where. Never updated or deleted."""

    __tablename__ = "audit_event"
    # Sign-in failures per address in the last minutes (the per-address sign-in limit).
    __table_args__ = (Index("ix_audit_event_action_address", "action", "ip_address", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    actor_name: Mapped[str] = mapped_column(String(80))
    actor_roles: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip_address: Mapped[str | None] = mapped_column(String(64))


class AuditRowImmutableError(RuntimeError):
    pass


@event.listens_for(AuditEventModel, "before_update")
@event.listens_for(AuditEventModel, "before_delete")
def _refuse_change(mapper: Any, connection: Any, target: AuditEventModel) -> None:
    raise AuditRowImmutableError("Audit rows are append-only")
