"""The decision table editor, beside the diagram editor and the form designer: a draft's
.dmn files edited with dmn-js, saved into the draft like its other files.

The page is a form posting the table's XML: decision-table-editor.js fills it from dmn-js
when the manager saves; without JavaScript the XML itself is in the text box."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from mdt.models import PathwayVersionModel
from mdt.models.roles import Role
from mdt.services.decision_tables import (
    add_table,
    draft_tables,
    save_table,
    table_problems,
    table_text,
)
from mdt.services.errors import ConflictError, InvalidInputError, NotFoundError
from mdt.web.access import current_actor, roles_required
from mdt.web.drafts import editable_draft

bp = Blueprint("decision_tables", __name__, url_prefix="/pathways")

PageResult = WerkzeugResponse | str | tuple[str, int]


@bp.get("/<int:version_id>/decision-tables")
@roles_required(Role.MANAGER)
def tables(version_id: int) -> PageResult:
    version = editable_draft(version_id)
    if version is None:
        return redirect(url_for("pathways.library"))
    return _list(version)


def _list(version: PathwayVersionModel, errors: dict[str, str] | None = None) -> str:
    return render_template(
        "pathways/decision_tables.html",
        version=version,
        names=draft_tables(version),
        errors=errors or {},
        values=request.form if request.method == "POST" else {},
    )


@bp.post("/<int:version_id>/decision-tables")
@roles_required(Role.MANAGER)
def add(version_id: int) -> PageResult:
    version = editable_draft(version_id)
    if version is None:
        return redirect(url_for("pathways.library"))
    try:
        version, name = add_table(
            current_actor(),
            version.id,
            request.form.get("decision_id", ""),
            request.form.get("title", ""),
            request.form.get("expected_sha256", ""),
        )
    except InvalidInputError as error:
        return _list(version, dict(error.errors)), 400
    except ConflictError as error:
        return _list(version, {"save": str(error)}), 409
    flash(f"{name} is added to the draft: fill in its rules.", "success")
    return redirect(url_for(".table", version_id=version.id, name=name))


@bp.get("/<int:version_id>/decision-tables/<name>")
@roles_required(Role.MANAGER)
def table(version_id: int, name: str) -> PageResult:
    version = editable_draft(version_id)
    if version is None:
        return redirect(url_for("pathways.library"))
    text = table_text(version, name)
    if text is None:
        raise NotFoundError(f"The draft has no decision table called {name}")
    return _page(version, name, text)


@bp.post("/<int:version_id>/decision-tables/<name>")
@roles_required(Role.MANAGER)
def save(version_id: int, name: str) -> PageResult:
    version = editable_draft(version_id)
    if version is None:
        return redirect(url_for("pathways.library"))
    text = request.form.get("xml", "")
    try:
        save_table(current_actor(), version.id, name, text, request.form.get("expected_sha256", ""))
    except InvalidInputError as error:
        return _page(version, name, text, errors=dict(error.errors)), 400
    except ConflictError as error:
        return _page(version, name, text, errors={"save": str(error)}), 409
    flash(f"{name} is saved in the draft.", "success")
    return redirect(url_for(".table", version_id=version.id, name=name))


def _page(
    version: PathwayVersionModel, name: str, text: str, errors: dict[str, str] | None = None
) -> str:
    return render_template(
        "pathways/decision_table.html",
        version=version,
        name=name,
        text=text,
        errors=errors or {},
        # What the checks find in the saved file (not in unsaved text being shown again).
        problems=[] if errors else table_problems(current_actor(), version, name),
    )
