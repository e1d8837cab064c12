"""/api/v1/pathways: the pathway versions and their BPMN."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from mdt.models.roles import Role
from mdt.services.pathway_drafts import (
    publish_version,
    save_draft,
    update_draft,
    validate_version,
)
from mdt.services.pathway_library import list_versions
from mdt.services.pathways import get_version
from mdt.web.access import any_signed_in, current_actor, roles_required
from mdt.web.api.schemas import (
    DraftFilesSchema,
    NewPathwaySchema,
    PathwayVersionSchema,
    SavedDraftSchema,
    ValidationSchema,
)

bp = Blueprint("api_pathways", __name__, url_prefix="/api/v1", description="Pathways")


@bp.route("/pathways", methods=["GET"])
@bp.response(200, PathwayVersionSchema(many=True))
@any_signed_in
def index() -> Any:
    return list_versions()


@bp.route("/pathways/<int:version_id>/bpmn", methods=["GET"])
@bp.response(200, {"type": "string"}, content_type="application/xml")
@any_signed_in
def bpmn(version_id: int) -> Any:
    """The version's main BPMN file (XML)."""
    version = get_version(version_id)
    main = next(f for f in version.files if f.kind == "bpmn")
    return Response(main.content, mimetype="application/xml")


@bp.route("/pathways", methods=["POST"])
@bp.arguments(NewPathwaySchema)
@bp.response(201, PathwayVersionSchema)
@roles_required(Role.MANAGER)
def upload(args: dict[str, Any]) -> Any:
    """Save files as a draft version (valid or not: validate it, then publish it)."""
    files = {f["name"]: f["content"].encode() for f in args["files"]}
    return save_draft(current_actor(), args["key"], args["title"], files)


@bp.route("/pathways/<int:version_id>/files", methods=["PUT"])
@bp.arguments(DraftFilesSchema)
@bp.response(200, SavedDraftSchema)
@roles_required(Role.MANAGER)
def save_files(args: dict[str, Any], version_id: int) -> Any:
    """Replace a draft's files (as the editor saves) and check them: 409 if someone else
    saved since ``expected_sha256``, 409 if the version is not a draft."""
    actor = current_actor()
    files = {f["name"]: f["content"].encode() for f in args["files"]}
    version = update_draft(actor, version_id, files, args["expected_sha256"])
    result = validate_version(actor, version_id)
    return {"version": version, "valid": result.valid, "problems": result.problems}


@bp.route("/pathways/<int:version_id>/validate", methods=["POST"])
@bp.response(200, ValidationSchema)
@roles_required(Role.MANAGER)
def validate(version_id: int) -> Any:
    """Every problem with its file, line and element; none means it can be published."""
    result = validate_version(current_actor(), version_id)
    return {"valid": result.valid, "problems": result.problems}


@bp.route("/pathways/<int:version_id>/publish", methods=["POST"])
@bp.response(200, PathwayVersionSchema)
@roles_required(Role.MANAGER)
def publish(version_id: int) -> Any:
    """Publish a valid draft: 422 with its problems if it has any, 409 if not a draft."""
    return publish_version(current_actor(), version_id)
