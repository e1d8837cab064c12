"""What every page editing a draft pathway version shares (the diagram editor, the form
designer, the decision tables)."""

from __future__ import annotations

from flask import flash

from mdt.models import PathwayStatus, PathwayVersionModel
from mdt.services.pathways import get_version


def editable_draft(version_id: int) -> PathwayVersionModel | None:
    """The draft to edit; None (with a message for the next page) when the version is
    published or retired, which never change."""
    version = get_version(version_id)
    if version.status != PathwayStatus.DRAFT:
        flash(f"Version {version.version} is {version.status} and cannot change.", "warning")
        return None
    return version
