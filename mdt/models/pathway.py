from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.types import UTCDateTime

if TYPE_CHECKING:
    from mdt.models.user import UserModel


class PathwayStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class PathwayVersionModel(db.Model):  # type: ignore[name-defined,misc]
    """One version of a pathway. Its files live here, not on disk: what ran is what is stored."""

    __tablename__ = "pathway_version"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=PathwayStatus.DRAFT)
    process_id: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    files: Mapped[list[PathwayFileModel]] = relationship(
        back_populates="pathway_version", order_by="PathwayFileModel.name"
    )
    # Who made and who published this version, for the library ("with who and when").
    created_by: Mapped[UserModel | None] = relationship(foreign_keys=[created_by_id])
    published_by: Mapped[UserModel | None] = relationship(foreign_keys=[published_by_id])


class PathwayFileModel(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "pathway_file"
    __table_args__ = (UniqueConstraint("pathway_version_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pathway_version_id: Mapped[int] = mapped_column(ForeignKey("pathway_version.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "bpmn", "form" or "measures"
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))

    pathway_version: Mapped[PathwayVersionModel] = relationship(back_populates="files")
