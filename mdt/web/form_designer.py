"""The form designer, beside the diagram editor: a draft's forms built question by question,
with a preview rendered by the same code as the task screen.

Every change is a form post (add, move, remove, preview, save), so the page works without
JavaScript; form-designer.js only refreshes the preview and checks raw JSON as people type,
through the two POST endpoints at the end."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from mdt.models import PathwayStatus, PathwayVersionModel
from mdt.models.roles import Role
from mdt.services.errors import ConflictError, InvalidInputError, NotFoundError
from mdt.services.form_designer import (
    DATE_RULES,
    KINDS,
    FormDesign,
    NotRepresentable,
    add_question,
    check_form_text,
    design_from_schema,
    draft_forms,
    file_name_problem,
    form_file_name,
    move,
    parse_form_text,
    remove,
    save_form,
    schema_from_design,
    schema_text,
)
from mdt.services.form_designer_fields import design_fields, read_design
from mdt.services.pathways import get_version
from mdt.web.access import current_actor, roles_required
from mdt.web.drafts import editable_draft
from mdt.web.schema_forms import build_fields

bp = Blueprint("form_designer", __name__, url_prefix="/pathways")

PageResult = WerkzeugResponse | str | tuple[str, int]


@bp.get("/<int:version_id>/forms")
@roles_required(Role.MANAGER)
def forms(version_id: int) -> PageResult:
    version = editable_draft(version_id)
    if version is None:
        return redirect(url_for("pathways.library"))
    return render_template(
        "pathways/form_designer_list.html", version=version, names=draft_forms(version)
    )


@bp.get("/<int:version_id>/forms/new")
@roles_required(Role.MANAGER)
def new_form(version_id: int) -> PageResult:
    version = editable_draft(version_id)
    if version is None:
        return redirect(url_for("pathways.library"))
    design = add_question(FormDesign())
    return _page(version, "", new=True, fields=design_fields(design))


@bp.get("/<int:version_id>/forms/<name>")
@roles_required(Role.MANAGER)
def form(version_id: int, name: str) -> PageResult:
    version = editable_draft(version_id)
    if version is None:
        return redirect(url_for("pathways.library"))
    stored = next((f for f in version.files if f.name == name and f.kind == "form"), None)
    if stored is None:
        raise NotFoundError(f"The draft has no form called {name}")
    text = stored.content.decode("utf-8", errors="replace")
    return _opened(version, name, text, new=False)


def _opened(version: PathwayVersionModel, name: str, text: str, new: bool) -> PageResult:
    """A form's text in the designer, or as raw JSON saying why the designer cannot show it."""
    try:
        design = design_from_schema(parse_form_text(text))
    except ValueError as error:  # NotRepresentable and JSON syntax errors alike
        notice = (
            f"The designer cannot show this form: {error}. It is open as JSON so that "
            "nothing in it is lost."
            if isinstance(error, NotRepresentable)
            else "This form is not valid JSON, so it is open as JSON: correct it below."
        )
        return _page(version, name, new=new, raw=text, notice=notice)
    return _page(version, name, new=new, fields=design_fields(design))


@bp.post("/<int:version_id>/forms/new")
@roles_required(Role.MANAGER)
def post_new_form(version_id: int) -> PageResult:
    return _post(version_id, "", new=True)


@bp.post("/<int:version_id>/forms/<name>")
@roles_required(Role.MANAGER)
def post_form(version_id: int, name: str) -> PageResult:
    return _post(version_id, name, new=False)


def _post(version_id: int, name: str, new: bool) -> PageResult:
    version = editable_draft(version_id)
    if version is None:
        return redirect(url_for("pathways.library"))
    action = request.form.get("action", "preview")
    if new:
        name = form_file_name(request.form.get("file_name", ""))
    if request.form.get("mode") == "raw":
        return _raw_action(version, name, new, action)
    design, errors = read_design(request.form.to_dict())
    structural = _apply(design, action)
    fields = design_fields(design)
    if action == "to-raw":
        return _page(version, name, new=new, raw=schema_text(schema_from_design(design)))
    if action != "save":  # a change to the questions, or Preview: the page again
        return _page(version, name, new=new, fields=fields, focus=structural)
    problem = file_name_problem(version, name, new) if new else None
    if problem:  # said with the questions' problems, first as on the page
        errors = {"file-name": problem, **errors}
    if errors:
        return _page(version, name, new=new, fields=fields, errors=errors), 400
    return _save(version, name, new, schema_text(schema_from_design(design)), fields=fields)


def _apply(design: FormDesign, action: str) -> str:
    """Add, move or remove a question; the id of what to focus after it, or ""."""
    verb, _, number = action.partition("-")
    index = int(number) - 1 if number.isdigit() else -1
    if verb == "add":
        add_question(design)
        return f"q{len(design.questions)}-label"
    if verb in ("up", "down") and index >= 0:
        move(design, index, -1 if verb == "up" else 1)
        moved_to = max(0, min(len(design.questions) - 1, index + (-1 if verb == "up" else 1)))
        return f"question-{moved_to + 1}"
    if verb == "remove" and index >= 0:
        remove(design, index)
        return "questions-title"
    return ""


def _raw_action(version: PathwayVersionModel, name: str, new: bool, action: str) -> PageResult:
    text = request.form.get("json", "")
    if action == "to-designer":
        return _opened(version, name, text, new)
    if action == "save":
        return _save(version, name, new, text, raw=text)
    return _page(version, name, new=new, raw=text)


def _save(
    version: PathwayVersionModel,
    name: str,
    new: bool,
    text: str,
    fields: dict[str, str] | None = None,
    raw: str | None = None,
) -> PageResult:
    expected = request.form.get("expected_sha256", "")
    try:
        save_form(current_actor(), version.id, name, text, expected, new)
    except InvalidInputError as error:
        errors = {"file-name": " ".join(error.errors.values())}
        return _page(version, name, new=new, fields=fields, raw=raw, errors=errors), 400
    except ConflictError as error:
        errors = {"save": str(error)}
        return _page(version, name, new=new, fields=fields, raw=raw, errors=errors), 409
    flash(
        f"{name} is saved in the draft. In the pathway editor, choose it as a user task's form.",
        "success",
    )
    return redirect(url_for(".form", version_id=version.id, name=name))


def _page(
    version: PathwayVersionModel,
    name: str,
    new: bool,
    fields: dict[str, str] | None = None,
    raw: str | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    focus: str = "",
) -> str:
    schema: Any
    if raw is not None:
        problems = check_form_text(name, raw)
        schema = _parsed(raw)
    else:
        problems = []
        schema = schema_from_design(read_design(fields or {})[0])
    others = [n for n in draft_forms(version) if n != name]
    return render_template(
        "pathways/form_designer.html",
        version=version,
        name=name,
        new=new,
        mode="raw" if raw is not None else "designer",
        fields=fields or {},
        count=int((fields or {}).get("questions", "0")),
        raw=raw,
        generated=schema_text(schema) if raw is None else "",
        errors=errors or {},
        problems=problems,
        notice=notice,
        focus=focus,
        kinds=KINDS,
        date_rules=DATE_RULES,
        other_forms=others,
        preview=_preview(schema),
        action_url=url_for(".post_new_form", version_id=version.id)
        if new
        else url_for(".post_form", version_id=version.id, name=name),
    )


def _parsed(text: str) -> Any:
    try:
        return parse_form_text(text)
    except ValueError:
        return None


def _preview(schema: Any) -> Markup:
    """The form as a clinician's task screen shows it, from the same macros and fields."""
    message = ""
    fields: list[Any] = []
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        message = "The preview shows once the form is a valid JSON object with properties."
    else:
        try:
            fields = build_fields(schema, {}, {})
        except (KeyError, TypeError, ValueError, AttributeError):
            # A form the renderer cannot read: the checks above say what is wrong with it.
            message = "The preview cannot show this form until its problems are corrected."
    return Markup(  # noqa: S704 - a template rendered with autoescaping
        render_template(
            "pathways/form_designer_preview.html",
            schema=schema if not message else {},
            fields=fields,
            message=message,
        )
    )


@bp.post("/<int:version_id>/forms/preview")
@roles_required(Role.MANAGER)
def preview(version_id: int) -> PageResult:
    """The preview of the form on the page now (the designer's fields, or raw JSON)."""
    version = get_version(version_id)
    if version.status != PathwayStatus.DRAFT:
        return "", 409
    if request.form.get("mode") == "raw":
        return str(_preview(_parsed(request.form.get("json", ""))))
    schema = schema_from_design(read_design(request.form.to_dict())[0])
    if request.form.get("with_schema"):  # the page also shows the JSON Schema written
        return jsonify(html=str(_preview(schema)), schema=schema_text(schema))
    return str(_preview(schema))


@bp.post("/<int:version_id>/forms/check")
@roles_required(Role.MANAGER)
def check(version_id: int) -> Any:
    """Raw JSON's problems as the upload would find them, JSON syntax with line and column."""
    get_version(version_id)
    name = form_file_name(request.form.get("file_name", "")) or "form.schema.json"
    problems = check_form_text(name, request.form.get("json", ""))
    return jsonify(
        problems=[{"message": p.message, "line": p.line, "column": p.column} for p in problems]
    )
