"""Signed-in sessions, kept on the server so that signing out, a password reset or a
deactivation ends them everywhere, whatever cookie a browser (or a thief) still holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.types import UTCDateTime
from mdt.models.user import UserModel


class SessionModel(db.Model):  # type: ignore[name-defined,misc]
    """One sign-in. The browser's cookie holds a random secret; only its SHA-256 is kept
    here. Sessions end (``ended_at`` and why), they are never deleted."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 'signed out', 'idle', 'expired', 'password reset', 'deactivated'
    end_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    ip_address: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[UserModel] = relationship()
