"""/api/v1/pathways: the pathway versions and their BPMN."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from mdt.models.roles import Role
from mdt.services.pathway_drafts import (
    publish_version,
    save_draft,
    update_draft,
    validate_version,
)
from mdt.services.pathway_library import list_versions
from mdt.services.pathway_trials import trial_version
from mdt.services.pathways import get_version
from mdt.web.access import any_signed_in, current_actor, roles_required
from mdt.web.api.schemas import (
    DraftFilesSchema,
    NewPathwaySchema,
    PathwayVersionSchema,
    SavedDraftSchema,
    ValidationSchema,
)
from mdt.web.api.trial_schemas import PublishSchema, TrialResultSchema
from mdt.web.pathways import stored_file_download

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
    """The version's main BPMN file (XML), as a download (``Content-Disposition:
    attachment``): a browser saves it, never renders it."""
    version = get_version(version_id)
    main = next(f for f in version.files if f.kind == "bpmn")
    return stored_file_download(main.name, main.content, "application/xml")


@bp.route("/pathways", methods=["POST"])
@bp.arguments(NewPathwaySchema)
@bp.response(201, PathwayVersionSchema)
@roles_required(Role.MANAGER)
def upload(args: dict[str, Any]) -> Any:
    """Save files as a draft version (valid or not: validate it, then publish it)."""
    files = {f["name"]: f["content"].encode() for f in args["files"]}
    return save_draft(current_actor(), args["key"], args["title"], files, args["process_id"])


@bp.route("/pathways/<int:version_id>/files", methods=["PUT"])
@bp.arguments(DraftFilesSchema)
@bp.response(200, SavedDraftSchema)
@roles_required(Role.MANAGER)
def save_files(args: dict[str, Any], version_id: int) -> Any:
    """Replace a draft's files (as the editor saves) and check them: 409 if someone else
    saved since ``expected_sha256``, 409 if the version is not a draft."""
    actor = current_actor()
    files = {f["name"]: f["content"].encode() for f in args["files"]}
    version = update_draft(
        actor, version_id, files, args["expected_sha256"], args.get("process_id")
    )
    result = validate_version(actor, version_id)
    return {"version": version, "valid": result.valid, "problems": result.problems}


@bp.route("/pathways/<int:version_id>/validate", methods=["POST"])
@bp.response(200, ValidationSchema)
@roles_required(Role.MANAGER)
def validate(version_id: int) -> Any:
    """Every problem with its file, line and element; none means it can be published."""
    result = validate_version(current_actor(), version_id)
    return {"valid": result.valid, "problems": result.problems}


@bp.route("/pathways/<int:version_id>/test-run", methods=["POST"])
@bp.response(200, TrialResultSchema)
@roles_required(Role.MANAGER)
def test_run(version_id: int) -> Any:
    """Run synthetic patients through a version (as publishing does first): every problem
    with the element and the path that reached it, and what the patients reached."""
    return trial_version(current_actor(), version_id).as_dict()


@bp.route("/pathways/<int:version_id>/publish", methods=["POST"])
@bp.arguments(PublishSchema, required=False)
@bp.response(200, PathwayVersionSchema)
@roles_required(Role.MANAGER)
def publish(args: dict[str, Any], version_id: int) -> Any:
    """Publish a draft that passes its checks and test run: 422 with its problems (and the
    test run, ``details.test_run``) if it has errors, or warnings not confirmed
    (``details.needs_confirmation``: send ``confirm_warnings``); 409 if not a draft."""
    confirm = bool((args or {}).get("confirm_warnings"))
    return publish_version(current_actor(), version_id, confirm_warnings=confirm)
