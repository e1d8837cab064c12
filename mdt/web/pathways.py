"""The pathway library: every member of staff can see the pathway they work to."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for

from mdt.services.errors import NotFoundError
from mdt.services.pathway_library import list_versions, pathway_file
from mdt.services.pathways import get_version
from mdt.web.access import any_signed_in

bp = Blueprint("pathways", __name__, url_prefix="/pathways")


@bp.get("")
@any_signed_in
def library() -> str:
    return render_template("pathways/library.html", versions=list_versions())


@bp.get("/<int:version_id>/files/<name>")
@any_signed_in
def file(version_id: int, name: str) -> Response:
    stored = pathway_file(version_id, name)
    mimetype = "application/xml" if stored.kind == "bpmn" else "application/json"
    return Response(
        stored.content,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'inline; filename="{stored.name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.get("/<int:version_id>/diagram")
@any_signed_in
def diagram(version_id: int) -> str:
    version = get_version(version_id)
    names = [f.name for f in version.files if f.kind == "bpmn"]
    name = request.args.get("file") or next((f.name for f in version.files if f.kind == "bpmn"), "")
    if name not in names:
        raise NotFoundError("No such diagram")
    return render_template(
        "pathways/diagram.html",
        version=version,
        name=name,
        names=names,
        xml_url=url_for("pathways.file", version_id=version_id, name=name),
    )
