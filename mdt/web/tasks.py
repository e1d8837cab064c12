from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from mdt.models import TaskStatus
from mdt.models.roles import TASK_ROLES
from mdt.services.errors import ConflictError, InvalidInputError, PathwayFailedError
from mdt.services.instances import complete_task
from mdt.services.pathways import form_schema
from mdt.services.worklist import open_task, worklist
from mdt.web.access import current_actor, roles_required
from mdt.web.errors import render_error
from mdt.web.schema_forms import build_fields, describe, parse_submission

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


@bp.get("")
@roles_required(*TASK_ROLES)
def my_tasks() -> str:
    actor = current_actor()
    role = request.args.get("role")
    page = worklist(
        actor,
        [role] if role else None,
        page=request.args.get("page", 1, type=int),
        page_size=current_app.config["MDT_PAGE_SIZE"],
    )
    return render_template("tasks/list.html", page=page, role=role)


def _render_task(
    task_id: int,
    values: dict | None = None,
    errors: dict | None = None,
    status: int = 200,
    conflict: str | None = None,
) -> tuple[str, int]:
    task = open_task(current_actor(), task_id)
    schema = form_schema(task.instance.pathway_version, task.form) or {"properties": {}}
    done = task.status != TaskStatus.READY
    fields = [] if done else build_fields(schema, values or {}, errors or {})
    answers = describe(schema, task.data or {}) if done else []
    return render_template(
        "tasks/detail.html",
        task=task,
        schema=schema,
        fields=fields,
        errors=errors or {},
        answers=answers,
        conflict=conflict,
    ), status


@bp.get("/<int:task_id>")
@roles_required(*TASK_ROLES)
def show(task_id: int) -> tuple[str, int]:
    return _render_task(task_id)


@bp.post("/<int:task_id>")
@roles_required(*TASK_ROLES)
def submit(task_id: int) -> Response | tuple[str, int]:
    task = open_task(current_actor(), task_id)
    schema = form_schema(task.instance.pathway_version, task.form) or {"properties": {}}
    data, raw, errors = parse_submission(schema, request.form)
    if errors:
        return _render_task(task_id, raw, errors, 400)
    try:
        complete_task(current_actor(), task_id, data)
    except InvalidInputError as error:
        return _render_task(task_id, raw, error.errors, 400)
    except ConflictError as error:
        return _render_task(task_id, raw, {}, 409, conflict=str(error))
    except PathwayFailedError as error:
        return render_error(500, str(error))
    flash(f"‘{task.name}’ completed for {task.patient.display_name}.", "success")
    return redirect(url_for("tasks.my_tasks"))
