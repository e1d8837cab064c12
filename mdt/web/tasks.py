from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from mdt import clock
from mdt.models import TaskStatus
from mdt.models.roles import ROLE_LABELS, TASK_ROLES
from mdt.models.standards import STANDARDS
from mdt.services.assignments import (
    claim_task,
    colleagues_for,
    colleagues_for_roles,
    reassign_task,
    reassign_tasks,
    release_task,
    save_draft,
)
from mdt.services.errors import ConflictError, InvalidInputError, PathwayFailedError
from mdt.services.form_validation import split_hidden
from mdt.services.instances import complete_task
from mdt.services.meetings import core_disciplines
from mdt.services.outside_meetings import (
    CLINICIANS,
    FIELD,
    REASON,
    RULE,
    OutsideMeeting,
    declaration_problems,
    needs_declaration,
    outcome_of,
)
from mdt.services.pathways import form_schema
from mdt.services.policy import REASSIGNERS
from mdt.services.worklist import (
    DUE_FILTERS,
    SORT_ALIASES,
    SORTS,
    VIEWS,
    WorklistQuery,
    open_task,
    task_for_submission,
    worklist,
)
from mdt.web.access import current_actor, roles_required
from mdt.web.errors import render_error
from mdt.web.schema_forms import build_fields, describe, not_kept_note, parse_submission

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

CLINICIAN_ROWS = 4  # rows for the clinicians who decided an outcome outside a meeting


def _query() -> WorklistQuery:
    args = request.args
    role = args.get("role")
    view = args.get("view", "waiting")
    sort = SORT_ALIASES.get(args.get("sort", "due"), args.get("sort", "due"))
    return WorklistQuery(
        view=view if view in VIEWS else "waiting",
        roles=(role,) if role else (),
        due=args.get("due") if args.get("due") in DUE_FILTERS else None,
        sort=sort if sort in SORTS else "due",
        descending=args.get("order") == "desc",
        page=args.get("page", 1, type=int),
        page_size=current_app.config["MDT_PAGE_SIZE"],
        search=args.get("q", "").strip(),
        task_name=args.get("task") or None,
        standard=args.get("standard") if args.get("standard") in STANDARDS else None,
        pathway=args.get("pathway") or None,
    )


def _worklist_page(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    actor = current_actor()
    query = _query()
    page = worklist(actor, query, clock.now(), current_app.config["MDT_DUE_SOON_DAYS"])
    may_give = actor.has_role(*REASSIGNERS)
    roles = {task.role for task in page.tasks if task.role}
    return render_template(
        "tasks/list.html",
        page=page,
        query=query,
        views=VIEWS,
        sorts=SORTS,
        due_filters=DUE_FILTERS,
        may_give=may_give,
        givers=colleagues_for_roles(roles) if may_give else [],
        role_choices=[
            role
            for role in ROLE_LABELS
            if role in TASK_ROLES and (may_give or actor.has_role(role))
        ],
        errors=errors or {},
        chosen={int(i) for i in request.form.getlist("task_ids") if i.isdigit()},
    ), status


@bp.get("")
@roles_required(*TASK_ROLES)
def my_tasks() -> tuple[str, int]:
    return _worklist_page()


@bp.post("/give")
@roles_required(*REASSIGNERS)
def give_selected() -> Response | tuple[str, int]:
    """Give the ticked tasks to one colleague (coordinators, managers): all or none."""
    ids = [int(i) for i in request.form.getlist("task_ids") if i.isdigit()]
    try:
        tasks = reassign_tasks(current_actor(), ids, request.form.get("user_id", 0, type=int))
    except InvalidInputError as error:
        return _worklist_page(error.errors, 400)
    except ConflictError as error:
        return _worklist_page({"task_ids": str(error)}, 409)
    who = tasks[0].assigned_to.display_name if tasks and tasks[0].assigned_to else "a colleague"
    flash(f"{len(tasks)} task{'' if len(tasks) == 1 else 's'} given to {who}.", "success")
    query: dict[str, Any] = request.args.to_dict()  # back to the list as it was filtered
    return redirect(url_for("tasks.my_tasks", **query))


def _outside_meeting(form: MultiDict[str, str]) -> tuple[OutsideMeeting | None, dict[str, Any]]:
    """The declaration that an MDT outcome was decided outside a meeting, as posted (None
    unless its box is ticked), and the values to show again."""
    raw: dict[str, Any] = {
        "declared": form.get(FIELD) == "yes",
        "reason": form.get(REASON, ""),
        "clinicians": [
            {
                "name": form.get(f"{CLINICIANS}.{row}.name", ""),
                "discipline": form.get(f"{CLINICIANS}.{row}.discipline", ""),
            }
            for row in range(CLINICIAN_ROWS)
        ],
    }
    return (OutsideMeeting.from_mapping(raw) if raw["declared"] else None), raw


def _render_task(
    task_id: int,
    values: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    conflict: str | None = None,
) -> tuple[str, int]:
    actor = current_actor()
    task = open_task(actor, task_id)
    schema = form_schema(task.instance.pathway_version, task.form) or {"properties": {}}
    done = task.status != TaskStatus.READY
    if values is None and task.draft:
        values = dict(task.draft)
    can_complete = (
        not done
        and actor.has_role(task.role or "-")
        and task.assigned_to_id in (None, actor.user_id)
    )
    fields = build_fields(schema, values or {}, errors or {}) if can_complete else []
    answers = describe(schema, task.data or {}) if done else []
    colleagues = colleagues_for(task.role) if task.role and not done else []
    posted = (values or {}).get(FIELD)
    outside = dict(posted) if isinstance(posted, dict) else {}
    rows = list(outside.get("clinicians") or [])
    outside["clinicians"] = rows + [{}] * (CLINICIAN_ROWS - len(rows))
    return render_template(
        "tasks/detail.html",
        task=task,
        schema=schema,
        fields=fields,
        errors=errors or {},
        answers=answers,
        conflict=conflict,
        can_complete=can_complete,
        colleagues=colleagues,
        needs_declaration=not done and needs_declaration(task),
        outside=outside,
        outside_rule=RULE,
        disciplines=core_disciplines(),
        outcome=outcome_of(task) if done else None,
    ), status


@bp.get("/<int:task_id>")
@roles_required(*TASK_ROLES)
def show(task_id: int) -> tuple[str, int]:
    return _render_task(task_id)


@bp.post("/<int:task_id>")
@roles_required(*TASK_ROLES)
def submit(task_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    task = task_for_submission(actor, task_id)
    schema = form_schema(task.instance.pathway_version, task.form) or {"properties": {}}
    data, raw, errors = parse_submission(schema, request.form)
    outside_meeting = None
    if needs_declaration(task):
        outside_meeting, raw[FIELD] = _outside_meeting(request.form)
    try:
        if request.form.get("action") == "draft":
            save_draft(actor, task_id, raw)
            flash("Draft saved. Nothing has been sent yet.", "success")
            return redirect(url_for("tasks.show", task_id=task_id))
        if errors:  # every problem at once: the declaration's too
            errors |= declaration_problems(task, outside_meeting)
            return _render_task(task_id, raw, errors, 400)
        not_kept = split_hidden(schema, data)[1]
        complete_task(actor, task_id, data, outside_meeting)
    except InvalidInputError as error:
        return _render_task(task_id, raw, error.errors, 400)
    except ConflictError as error:
        return _render_task(task_id, raw, {}, 409, conflict=str(error))
    except PathwayFailedError as error:
        return render_error(500, str(error))
    flash(
        f"‘{task.name}’ completed for {task.patient.display_name}." + not_kept_note(not_kept),
        "success",
    )
    return redirect(url_for("tasks.my_tasks"))


@bp.post("/<int:task_id>/assignment")
@roles_required(*TASK_ROLES)
def assignment(task_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    action = request.form.get("action")
    try:
        if action == "claim":
            task = claim_task(actor, task_id)
            flash(f"You are now doing ‘{task.name}’.", "success")
        elif action == "release":
            task = release_task(actor, task_id)
            flash(f"‘{task.name}’ is back in the team's list.", "success")
        elif action == "reassign":
            task = reassign_task(actor, task_id, request.form.get("user_id", 0, type=int))
            who = task.assigned_to.display_name if task.assigned_to else "a colleague"
            flash(f"‘{task.name}’ is now with {who}.", "success")
        else:
            return render_error(400)
    except InvalidInputError as error:
        return _render_task(task_id, None, error.errors, 400)
    except ConflictError as error:
        return _render_task(task_id, None, {}, 409, conflict=str(error))
    return redirect(url_for("tasks.show", task_id=task_id))
