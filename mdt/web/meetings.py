"""MDT meetings for coordinators: schedule, build and circulate the list, run the meeting,
confirm outcomes and send GP letters."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from mdt import clock
from mdt.models import ListingStatus, MeetingModel
from mdt.models.roles import Role
from mdt.services.errors import ConflictError, InvalidInputError, PathwayFailedError
from mdt.services.gp_letters import gp_letter
from mdt.services.meetings import (
    CandidatePage,
    active_listings,
    add_listing,
    candidates,
    circulate,
    close_meeting,
    confirm_outcome,
    core_disciplines,
    create_series,
    form_at_meeting,
    get_meeting,
    gp_letter_task,
    list_meetings,
    list_series,
    listing_for_view,
    meeting_kpis,
    members,
    missing_disciplines,
    move_listing,
    opens_at,
    record_attendance,
    record_gp_letter,
    record_member_present,
    remove_listing,
    save_outcome_draft,
    schedule_next,
    withdrawn_listings,
)
from mdt.services.pathways import form_schema
from mdt.web.access import current_actor, roles_required
from mdt.web.errors import render_error
from mdt.web.pdf import pdf_response
from mdt.web.schema_forms import build_fields, describe, parse_submission

bp = Blueprint("meetings", __name__, url_prefix="/meetings")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _version() -> int | None:
    return request.form.get("version", type=int)


@bp.get("")
@roles_required(Role.COORDINATOR)
def index(
    errors: dict[str, str] | None = None, values: dict[str, Any] | None = None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "meetings/index.html",
        meetings=list_meetings(),
        series=list_series(),
        weekdays=WEEKDAYS,
        errors=errors or {},
        values=values or {},
    ), status


@bp.post("/series")
@roles_required(Role.COORDINATOR)
def new_series() -> Response | tuple[str, int]:
    form = request.form
    try:
        series = create_series(
            current_actor(),
            form.get("name", ""),
            form.get("weekday", -1, type=int),
            form.get("start_time", ""),
            form.get("location", ""),
        )
        meeting = schedule_next(current_actor(), series.id)
    except InvalidInputError as error:
        return index(error.errors, form.to_dict(), 400)
    flash(f"{series.name} set up; the next meeting is ready for its list.", "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.post("/series/<int:series_id>/next")
@roles_required(Role.COORDINATOR)
def next_meeting(series_id: int) -> Response:
    meeting = schedule_next(current_actor(), series_id)
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


def _render_meeting(
    meeting_id: int,
    errors: dict[str, str] | None = None,
    conflict: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    meeting = get_meeting(meeting_id)
    return render_template(
        "meetings/show.html",
        meeting=meeting,
        listings=active_listings(meeting),
        withdrawn=withdrawn_listings(meeting),
        waiting=_waiting_page(meeting),
        after_cut_off=clock.now() > meeting.cut_off_at,
        kpis=meeting_kpis(meeting),
        missing=missing_disciplines(meeting),
        disciplines=core_disciplines(),
        members=[
            m for m in members() if m.display_name not in {a.name for a in meeting.attendance}
        ],
        errors=errors or {},
        conflict=conflict,
    ), status


def _waiting_page(meeting: MeetingModel) -> CandidatePage | None:
    """The page of waiting patients the coordinator was looking at (search and page are in
    the address, so they survive adding a patient)."""
    if meeting.status != "planned":
        return None
    return candidates(
        meeting, request.args.get("q", ""), request.args.get("page", 1, type=int) or 1
    )


def _back_to_list(meeting_id: int) -> str:
    kept: dict[str, Any] = {k: request.args[k] for k in ("q", "page") if request.args.get(k)}
    return url_for("meetings.show", meeting_id=meeting_id, **kept)


@bp.get("/<int:meeting_id>")
@roles_required(Role.COORDINATOR)
def show(meeting_id: int) -> tuple[str, int]:
    return _render_meeting(meeting_id)


@bp.post("/<int:meeting_id>")
@roles_required(Role.COORDINATOR)
def change(meeting_id: int) -> Response | tuple[str, int]:
    """One endpoint for the list's buttons: each posts an action and the version seen."""
    form, actor = request.form, current_actor()
    action = form.get("action", "")
    try:
        if action == "add":
            add_listing(
                actor,
                meeting_id,
                form.get("task_id", 0, type=int),
                form.get("kind", "discussion"),
                form.get("late_reason"),
                _version(),
            )
        elif action in ("up", "down"):
            move_listing(
                actor, form.get("listing_id", 0, type=int), -1 if action == "up" else 1, _version()
            )
        elif action == "remove":
            remove_listing(actor, form.get("listing_id", 0, type=int), _version())
        elif action == "circulate":
            circulate(actor, meeting_id, _version())
            flash("The list is locked and circulated.", "success")
        elif action == "member":
            record_member_present(actor, meeting_id, form.get("user_id", 0, type=int), _version())
        elif action == "attendance":
            record_attendance(
                actor,
                meeting_id,
                form.get("name", ""),
                form.get("discipline", ""),
                form.get("present") != "no",
                _version(),
            )
        elif action == "close":
            close_meeting(actor, meeting_id, _version())
            flash(
                "Meeting closed. Patients not discussed were moved to the next meeting.", "success"
            )
        else:
            return render_error(400)
    except InvalidInputError as error:
        return _render_meeting(meeting_id, error.errors, status=400)
    except ConflictError as error:
        return _render_meeting(meeting_id, conflict=str(error), status=409)
    return redirect(_back_to_list(meeting_id))


@bp.get("/<int:meeting_id>/list.pdf")
@roles_required(Role.COORDINATOR)
def list_pdf(meeting_id: int) -> Response:
    meeting = get_meeting(meeting_id)
    return pdf_response(
        "mdt_list.html",
        f"mdt-list-{meeting.id}.pdf",
        meeting=meeting,
        listings=active_listings(meeting),
        withdrawn=withdrawn_listings(meeting),
    )


@bp.get("/<int:meeting_id>/minutes.pdf")
@roles_required(Role.COORDINATOR)
def minutes_pdf(meeting_id: int) -> Response:
    meeting = get_meeting(meeting_id)
    items = [
        (
            item,
            describe(
                form_schema(item.task.instance.pathway_version, item.task.form) or {},
                item.outcome or {},
            ),
        )
        for item in active_listings(meeting)
    ]
    return pdf_response(
        "minutes.html",
        f"mdt-minutes-{meeting.id}.pdf",
        meeting=meeting,
        items=items,
        missing=missing_disciplines(meeting),
    )


@bp.get("/<int:meeting_id>/list")
@roles_required(Role.COORDINATOR)
def printable(meeting_id: int) -> str:
    meeting = get_meeting(meeting_id)
    return render_template(
        "meetings/printable.html", meeting=meeting, listings=active_listings(meeting)
    )


def _render_listing(
    listing_id: int,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    conflict: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    view = listing_for_view(current_actor(), listing_id)
    listing = view.listing
    schema = form_schema(listing.task.instance.pathway_version, listing.task.form) or {}
    confirmed = listing.status == ListingStatus.CONFIRMED
    letter = gp_letter_task(listing) if confirmed else None
    letter_schema = (
        (form_schema(letter.instance.pathway_version, letter.form) or {}) if letter else {}
    )
    return render_template(
        "meetings/listing.html",
        view=view,
        listing=listing,
        patient=listing.patient,
        schema=schema,
        errors=errors or {},
        conflict=conflict,
        fields=[]
        if confirmed
        else build_fields(form_at_meeting(schema), values or listing.outcome or {}, errors or {}),
        opens_at=opens_at(listing.meeting),
        answers=describe(schema, listing.outcome or {}) if confirmed else [],
        missing=missing_disciplines(listing.meeting),
        letter=letter,
        letter_fields=build_fields(letter_schema, {}, {})
        if letter and letter.status == "ready"
        else [],
        letter_answers=describe(letter_schema, letter.data or {}) if letter else [],
    ), status


@bp.get("/listings/<int:listing_id>")
@roles_required(Role.COORDINATOR)
def listing(listing_id: int) -> tuple[str, int]:
    return _render_listing(listing_id)


@bp.post("/listings/<int:listing_id>")
@roles_required(Role.COORDINATOR)
def outcome(listing_id: int) -> Response | tuple[str, int]:
    view = listing_for_view(current_actor(), listing_id, audit=False)
    item = view.listing
    schema = form_schema(item.task.instance.pathway_version, item.task.form) or {}
    data, raw, errors = parse_submission(form_at_meeting(schema), request.form)
    try:
        if request.form.get("action") == "draft":
            save_outcome_draft(
                current_actor(), listing_id, data, request.form.get("version", type=int)
            )
            flash("Outcome draft saved.", "success")
            return redirect(url_for("meetings.listing", listing_id=listing_id))
        if errors:
            return _render_listing(listing_id, raw, errors, status=400)
        confirm_outcome(
            current_actor(),
            listing_id,
            data,
            request.form.get("nonquorate_reason"),
            request.form.get("version", type=int),
        )
    except InvalidInputError as error:
        return _render_listing(listing_id, raw, error.errors, status=400)
    except ConflictError as error:
        return _render_listing(listing_id, raw, conflict=str(error), status=409)
    except PathwayFailedError as error:
        return render_error(500, str(error))
    flash(
        f"Outcome confirmed for {item.patient.display_name}; their pathway has moved on.", "success"
    )
    return redirect(url_for("meetings.show", meeting_id=item.meeting_id))


@bp.post("/listings/<int:listing_id>/gp-letter")
@roles_required(Role.COORDINATOR)
def gp_letter_sent(listing_id: int) -> Response | tuple[str, int]:
    view = listing_for_view(current_actor(), listing_id, audit=False)
    letter = gp_letter_task(view.listing)
    if letter is None:
        return _render_listing(
            listing_id, conflict="There is no GP letter to record yet.", status=409
        )
    schema = form_schema(letter.instance.pathway_version, letter.form) or {}
    data, _, errors = parse_submission(schema, request.form)
    try:
        if errors:
            raise InvalidInputError(errors)
        record_gp_letter(current_actor(), listing_id, data)
    except InvalidInputError as error:
        return _render_listing(listing_id, errors=error.errors, status=400)
    except ConflictError as error:
        return _render_listing(listing_id, conflict=str(error), status=409)
    flash("GP letter recorded as sent.", "success")
    return redirect(url_for("meetings.listing", listing_id=listing_id))


@bp.get("/listings/<int:listing_id>/gp-letter.pdf")
@roles_required(Role.COORDINATOR)
def gp_letter_pdf(listing_id: int) -> Response:
    letter = gp_letter(current_actor(), listing_id)
    return pdf_response(
        "gp_letter.html",
        f"mdt-outcome-{letter.patient.nhs_number}.pdf",
        letter=letter,
        patient=letter.patient,
    )
