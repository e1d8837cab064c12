"""The pathway library: every member of staff can see the pathway they work to."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from mdt.models.roles import Role
from mdt.services.errors import NotFoundError
from mdt.services.pathway_library import (
    current_versions,
    list_versions,
    pathway_file,
    running_counts,
)
from mdt.services.pathway_migration import TIMER_CAVEAT, migrate_all, plan_migration
from mdt.services.pathways import get_version
from mdt.web.access import any_signed_in, current_actor, roles_required

bp = Blueprint("pathways", __name__, url_prefix="/pathways")


@bp.get("")
@any_signed_in
def library() -> str:
    return render_template(
        "pathways/library.html",
        versions=list_versions(),
        running=running_counts(),
        current=current_versions(),
        is_manager=current_actor().has_role(Role.MANAGER),
    )


@bp.get("/<int:version_id>/move")
@roles_required(Role.MANAGER)
def move(version_id: int) -> str:
    """The dry run: what changed, and which patients can move to the current version."""
    source = get_version(version_id)
    target_id = request.args.get("to", type=int) or current_versions().get(source.key, 0)
    plan = plan_migration(current_actor(), version_id, target_id)
    return render_template("pathways/move.html", plan=plan, caveat=TIMER_CAVEAT)


@bp.post("/<int:version_id>/move")
@roles_required(Role.MANAGER)
def move_all(version_id: int) -> WerkzeugResponse:
    result = migrate_all(current_actor(), version_id, request.form.get("to", 0, type=int))
    flash(
        f"Moved {result.moved} patient{'s' if result.moved != 1 else ''}. "
        + (f"{result.stayed} could not move and stay on their version." if result.stayed else ""),
        "success",
    )
    return redirect(url_for("pathways.library"))


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
