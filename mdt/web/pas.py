"""What the PAS feed asks of coordinators: deaths it reported, to confirm (closing the
pathway as of the date of death) or to reject (not this patient)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from mdt.services.errors import ConflictError, InvalidInputError
from mdt.services.pas import (
    confirm_death,
    death_form,
    death_notification,
    pending_deaths,
    reject_death,
)
from mdt.services.pas.deaths import death_date_field
from mdt.services.policy import MEETING_RUNNERS
from mdt.web.access import current_actor, roles_required
from mdt.web.errors import render_error
from mdt.web.schema_forms import build_fields, parse_submission

bp = Blueprint("pas", __name__, url_prefix="/pas")


@bp.get("/deaths")
@roles_required(*MEETING_RUNNERS)
def deaths() -> str:
    return render_template("pas/deaths.html", notifications=pending_deaths(current_actor()))


@bp.route("/deaths/<int:notification_id>", methods=["GET", "POST"])
@roles_required(*MEETING_RUNNERS)
def confirm(notification_id: int) -> Response | tuple[str, int]:
    """The death event's own form with the date of death filled in: confirming records it."""
    actor = current_actor()
    notification = death_notification(actor, notification_id)
    if notification.status != "pending":
        return render_error(409, f"This death notification was already {notification.status}.")
    try:
        event, problem = death_form(actor, notification), None
    except ConflictError as error:  # only "Not this patient" is offered, and why
        event, problem = None, str(error)
    if problem and request.method == "POST":
        return render_error(409, problem)
    schema = event.schema if event else {}
    fixed = death_date_field(notification, event) if event else ""
    ask = {
        **schema,
        "properties": {k: v for k, v in schema.get("properties", {}).items() if k != fixed},
        "required": [name for name in schema.get("required", []) if name != fixed],
    }
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        data, values, errors = parse_submission(ask, request.form)
        if not errors:
            try:
                confirm_death(actor, notification_id, data)
            except InvalidInputError as error:
                errors = error.errors
            except ConflictError as error:
                return render_error(409, str(error))
            else:
                flash(
                    f"Death of {notification.patient.display_name} confirmed: their pathway "
                    f"is closed as of {notification.date_of_death:%-d %B %Y}.",
                    "success",
                )
                return redirect(url_for("pas.deaths"))
    return render_template(
        "pas/confirm.html",
        notification=notification,
        patient=notification.patient,
        event=event,
        problem=problem,
        fields=build_fields(ask, values, errors) if event else [],
        errors=errors,
    ), 400 if errors else 200


@bp.post("/deaths/<int:notification_id>/reject")
@roles_required(*MEETING_RUNNERS)
def reject(notification_id: int) -> Response | tuple[str, int]:
    try:
        notification = reject_death(current_actor(), notification_id)
    except ConflictError as error:
        return render_error(409, str(error))
    flash(
        f"Recorded: the death the PAS reported is not {notification.patient.display_name}'s. "
        "Letters about them are no longer held; list them again for any MDT they came off.",
        "success",
    )
    return redirect(url_for("pas.deaths"))
