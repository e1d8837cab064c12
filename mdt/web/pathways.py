"""The pathway library: every member of staff can see the pathway they work to."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from mdt.models import PathwayStatus, PathwayVersionModel
from mdt.models.roles import Role, editor_roles
from mdt.models.standards import STANDARDS
from mdt.services.errors import InvalidInputError, NotFoundError, PathwayFailedError
from mdt.services.instances import retry_instance
from mdt.services.new_pathway import create_pathway
from mdt.services.pathway_drafts import open_draft
from mdt.services.pathway_library import (
    current_versions,
    list_versions,
    pathway_file,
    previous_version,
    running_counts,
)
from mdt.services.pathway_migration import (
    TIMER_CAVEAT,
    compare_versions,
    migrate_all,
    plan_migration,
)
from mdt.services.pathway_operations import operations
from mdt.services.pathways import get_version
from mdt.web.access import any_signed_in, current_actor, roles_required
from mdt.web.drafts import editable_draft

bp = Blueprint("pathways", __name__, url_prefix="/pathways")


@bp.get("")
@any_signed_in
def library() -> str:
    return _library_page()[0]


@bp.post("/new")
@roles_required(Role.MANAGER)
def new_pathway() -> WerkzeugResponse | tuple[str, int]:
    """A new pathway from nothing: its draft, with a starter diagram, opens in the editor."""
    try:
        draft = create_pathway(
            current_actor(), request.form.get("key", ""), request.form.get("title", "")
        )
    except InvalidInputError as error:
        return _library_page(error.errors, 400)
    flash(f"{draft.title} is a new draft: build it here, then test-run and publish it.", "success")
    return redirect(url_for("pathways.edit", version_id=draft.id))


def _library_page(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    versions = list_versions()
    numbers = {(v.key, v.version): v for v in versions}
    return render_template(
        "pathways/library.html",
        versions=versions,
        drafts={v.key for v in versions if v.status == PathwayStatus.DRAFT},
        # Versions with a non-draft predecessor can show what changed from it.
        comparable={
            v.id
            for v in versions
            if (prior := numbers.get((v.key, v.version - 1))) is not None
            and prior.status != PathwayStatus.DRAFT
        },
        running=running_counts(),
        current=current_versions(),
        is_manager=current_actor().has_role(Role.MANAGER),
        errors=errors or {},
        values=request.form,
    ), status


@bp.post("/<int:version_id>/draft")
@roles_required(Role.MANAGER)
def start_draft(version_id: int) -> WerkzeugResponse:
    """Open the pathway's draft for editing, copying this version if there is none."""
    draft = open_draft(current_actor(), version_id)
    return redirect(url_for("pathways.edit", version_id=draft.id))


@bp.get("/<int:version_id>/edit")
@roles_required(Role.MANAGER)
def edit(version_id: int) -> WerkzeugResponse | str:
    version = editable_draft(version_id)
    if version is None:
        return redirect(url_for("pathways.library"))
    return render_template(
        "pathways/edit.html",
        version=version,
        files=_editor_files(version),
        roles=editor_roles(),
        standards=STANDARDS,
        current_id=current_versions().get(version.key),
    )


@bp.get("/<int:version_id>/operations")
@roles_required(Role.MANAGER)
def operations_view(version_id: int) -> str:
    """Where this version's patients wait, drawn on the diagram, and who is paused."""
    version = get_version(version_id)
    ops = operations(current_actor(), version_id)
    name = request.args.get("file") or _main_file(version)
    return render_template(
        "pathways/operations.html",
        version=version,
        ops=ops,
        names=_diagram_names(version),
        name=name,
        xml_url=url_for("pathways.file", version_id=version_id, name=name),
    )


@bp.post("/instances/<int:instance_id>/retry")
@roles_required(Role.MANAGER)
def retry(instance_id: int) -> WerkzeugResponse:
    version_id = request.form.get("version", 0, type=int)
    try:
        retry_instance(current_actor(), instance_id)
    except PathwayFailedError as error:
        flash(f"The pathway failed again and stays paused. {error}", "error")
    else:
        flash("The pathway is running again.", "success")
    return redirect(url_for("pathways.operations_view", version_id=version_id))


@bp.get("/<int:version_id>/compare")
@any_signed_in
def compare(version_id: int) -> str:
    """The changes from an earlier version, listed and drawn on both diagrams."""
    new = get_version(version_id)
    earlier = previous_version(new)
    old = get_version(request.args.get("with", type=int) or (earlier.id if earlier else 0))
    comparison = compare_versions(old.id, new.id)
    changed_files = [n for n in _diagram_names(new) if n in comparison.by_file]
    name = request.args.get("file") or next(iter(changed_files), _main_file(new))
    return render_template(
        "pathways/compare.html",
        comparison=comparison,
        changes=comparison.changes,
        marks=comparison.marks(name),
        name=name,
        names=_diagram_names(new),
        new_url=url_for("pathways.file", version_id=new.id, name=name),
        old_url=url_for("pathways.file", version_id=old.id, name=name)
        if name in _diagram_names(old)
        else None,
    )


def _editor_files(version: PathwayVersionModel) -> list[dict[str, str]]:
    main = _main_file(version)  # the editor opens the main diagram first
    return [
        {
            "name": f.name,
            "kind": f.kind,
            "url": url_for(".file", version_id=version.id, name=f.name),
        }
        for f in sorted(version.files, key=lambda f: (f.name != main, f.name))
    ]


def _diagram_names(version: PathwayVersionModel) -> list[str]:
    return [f.name for f in version.files if f.kind == "bpmn"]


def _main_file(version: PathwayVersionModel) -> str:
    marker = f'id="{version.process_id}"'.encode()
    bpmn = [f for f in version.files if f.kind == "bpmn"]
    main = next((f for f in bpmn if version.process_id and marker in f.content), None)
    return (main or bpmn[0]).name if bpmn else ""


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
    """A stored file of a version, for the diagram viewer and the editor (which fetch it)."""
    stored = pathway_file(version_id, name)
    return stored_file_download(stored.name, stored.content, "application/octet-stream")


def stored_file_download(name: str, content: bytes, mimetype: str) -> Response:
    """A pathway's file as a download, never a page: a draft is any manager's text, and a
    BPMN file rendered inline as XML could be XHTML (a fake sign-in form, a meta refresh
    to another site). Attachment, a type no browser renders, no sniffing, and a sandbox
    with nothing allowed if a browser renders it all the same."""
    response = Response(content, mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment", filename=name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/<int:version_id>/diagram")
@any_signed_in
def diagram(version_id: int) -> str:
    version = get_version(version_id)
    names = _diagram_names(version)
    name = request.args.get("file") or _main_file(version)
    if name not in names:
        raise NotFoundError("No such diagram")
    return render_template(
        "pathways/diagram.html",
        version=version,
        name=name,
        names=names,
        xml_url=url_for("pathways.file", version_id=version_id, name=name),
    )
