"""/api/v1/tasks: worklists, one task with its form, and completing it."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify
from flask_smorest import Blueprint

from mdt import clock
from mdt.models.roles import TASK_ROLES
from mdt.services.next_tasks import complete_and_find_next
from mdt.services.outside_meetings import OutsideMeeting
from mdt.services.patients import PathwayView
from mdt.services.worklist import WorklistQuery, open_task, worklist
from mdt.web.access import current_actor, roles_required
from mdt.web.api.schemas import (
    CompletedTaskSchema,
    CompletionSchema,
    TaskDetailSchema,
    TaskPageSchema,
    TaskSchema,
    TaskSearchSchema,
)

bp = Blueprint("api_tasks", __name__, url_prefix="/api/v1", description="Tasks")


def pathway_body(view: PathwayView) -> dict[str, Any]:
    instance = view.instance
    version = instance.pathway_version
    return {
        "instance_id": instance.id,
        "pathway": version.key,
        "version": version.version,
        "version_id": version.id,
        "status": instance.status,
        "started_at": instance.started_at,
        "index_date": instance.index_date,
        "in_care": instance.in_care,
        "closed_at": instance.closed_at,
        "close_reason": instance.close_reason,
        "open_tasks": view.open_tasks,
        "completed_tasks": view.completed_tasks,
    }


@bp.route("/tasks", methods=["GET"])
@bp.arguments(TaskSearchSchema, location="query")
@bp.response(200, TaskPageSchema)
@roles_required(*TASK_ROLES)
def search(args: dict[str, Any]) -> Any:
    """Tasks waiting for my roles (or one of them), assigned to me, or overdue."""
    query = WorklistQuery(
        view="mine" if args.get("assigned") == "me" else "waiting",
        roles=(args["role"],) if args.get("role") else (),
        due="overdue" if args.get("overdue") else None,
        page=args["page"],
        page_size=args["page_size"],
    )
    page = worklist(
        current_actor(), query, clock.now(), int(current_app.config["MDT_DUE_SOON_DAYS"])
    )
    return {"total": page.total, "page": query.page, "tasks": page.tasks}


@bp.route("/tasks/<int:task_id>", methods=["GET"])
@bp.response(200, TaskDetailSchema)
@roles_required(*TASK_ROLES)
def show(task_id: int) -> Any:
    """One task with the JSON Schema its completion must meet."""
    return open_task(current_actor(), task_id)


@bp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@bp.arguments(CompletionSchema)
@bp.response(200, CompletedTaskSchema)
@roles_required(*TASK_ROLES)
def complete(args: dict[str, Any], task_id: int) -> Any:
    """Complete a task: 422 with each field's problem, 409 if it was completed or changed
    meanwhile. An MDT outcome needs `outside_meeting` (it is not at a meeting here). The
    answer includes `next_tasks`: the patient's tasks now waiting for you."""
    declared = args.get("outside_meeting")
    outside_meeting = OutsideMeeting.from_mapping(declared) if declared is not None else None
    task, waiting = complete_and_find_next(current_actor(), task_id, args["data"], outside_meeting)
    body = TaskDetailSchema().dump(task)
    body["next_tasks"] = _TASKS.dump(waiting)
    # Dumped here (the task's fields and the list come from two objects); the response is
    # still described by CompletedTaskSchema.
    return jsonify(body)


_TASKS = TaskSchema(many=True)
