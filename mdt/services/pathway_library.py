"""Reading published pathways: versions, their files and what each task evidences."""

from __future__ import annotations

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import PathwayFileModel, PathwayVersionModel
from mdt.services.errors import NotFoundError


def list_versions() -> list[PathwayVersionModel]:
    return list(
        db.session.scalars(
            select(PathwayVersionModel).order_by(
                PathwayVersionModel.key, PathwayVersionModel.version.desc()
            )
        )
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
