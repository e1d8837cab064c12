"""Personal API tokens: a system acting for a person, with that person's roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.types import UTCDateTime
from mdt.models.user import UserModel


class ApiTokenModel(db.Model):  # type: ignore[name-defined,misc]
    """Only a hash of the secret is kept; the secret is shown once, when created. Tokens are
    revoked, never deleted, so the audit trail can always name the token used."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))  # shown to tell tokens apart
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 'revoked' (by its owner or an administrator), 'password reset', 'deactivated'
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    # Chosen when it is created (30, 90 or 365 days); an expired token is no token.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # 'read' (GET only) or 'write' (read and write)
    scope: Mapped[str] = mapped_column(String(10), default="write")

    user: Mapped[UserModel] = relationship()

    @property
    def expired(self) -> bool:
        return self.expires_at <= clock.now()

    @property
    def active(self) -> bool:
        return self.revoked_at is None and not self.expired

    @property
    def can_write(self) -> bool:
        return self.scope == "write"
