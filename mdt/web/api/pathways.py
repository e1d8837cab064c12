"""/api/v1/pathways: the pathway versions and their BPMN."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from mdt.services.pathway_library import list_versions
from mdt.services.pathways import get_version
from mdt.web.access import any_signed_in
from mdt.web.api.schemas import PathwayVersionSchema

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
