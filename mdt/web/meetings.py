"""MDT meetings, the whole team's workspace: every core member sees the lists and prepares;
the coordinators schedule, build and circulate the list, run the meeting, confirm outcomes and
send GP letters. One URL per action; who may do what is the access policy's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from mdt import clock
from mdt.models import ListingStatus, MeetingModel
from mdt.services.errors import ConflictError, InvalidInputError, PathwayFailedError
from mdt.services.gp_letters import gp_letter
from mdt.services.meetings import (
    CandidatePage,
    active_listings,
    add_listing,
    attendees,
    cancel_meeting,
    candidates,
    circulate,
    close_meeting,
    confirm_outcome,
    core_disciplines,
    create_meeting,
    create_series,
    form_at_meeting,
    gp_letter_task,
    list_meetings,
    list_series,
    listing_for_view,
    mark_ready,
    meeting_kpis,
    members,
    missing_disciplines,
    move_listing,
    move_meeting,
    opens_at,
    record_attendance,
    record_gp_letter,
    record_member_present,
    referrals,
    remove_attendee,
    remove_listing,
    save_outcome_draft,
    schedule_next,
    to_review,
    upcoming_open,
    view_meeting,
    withdrawn_listings,
)
from mdt.services.meetings.preparation import discipline_of
from mdt.services.pathways import form_schema
from mdt.services.policy import MEETING_READERS, MEETING_RUNNERS, PREPARERS, may_run_meetings
from mdt.web.access import current_actor, roles_required
from mdt.web.errors import render_error
from mdt.web.pdf import pdf_response
from mdt.web.schema_forms import build_fields, describe, parse_submission

bp = Blueprint("meetings", __name__, url_prefix="/meetings")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
readers = roles_required(*MEETING_READERS)
runners = roles_required(*MEETING_RUNNERS)


def _version() -> int | None:
    return request.form.get("version", type=int)


@bp.get("")
@readers
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
        now=clock.now(),
    ), status


@bp.post("/series")
@runners
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
@runners
def next_meeting(series_id: int) -> Response:
    meeting = schedule_next(current_actor(), series_id)
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.get("/extra")
@runners
def extra_form(
    errors: dict[str, str] | None = None, values: Any = None, status: int = 200
) -> tuple[str, int]:
    return render_template("meetings/extra.html", errors=errors or {}, values=values or {}), status


@bp.post("/extra")
@runners
def new_meeting() -> Response | tuple[str, int]:
    form = request.form
    try:
        meeting = create_meeting(
            current_actor(),
            form.get("title", ""),
            form.get("day", ""),
            form.get("start_time", ""),
            form.get("location", ""),
            form.get("reason", ""),
        )
    except InvalidInputError as error:
        return extra_form(error.errors, form, 400)
    flash(f"{meeting.title} set up; add patients to its list.", "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


def _render_meeting(
    meeting_id: int,
    errors: dict[str, str] | None = None,
    conflict: str | None = None,
    status: int = 200,
    values: dict[str, Any] | None = None,
) -> tuple[str, int]:
    meeting = view_meeting(current_actor(), meeting_id)
    runs = may_run_meetings(current_actor())
    present = attendees(meeting)
    return render_template(
        "meetings/show.html",
        meeting=meeting,
        listings=active_listings(meeting),
        referrals=referrals(meeting),
        withdrawn=withdrawn_listings(meeting),
        attendees=present,
        waiting=_waiting_page(meeting) if runs else None,
        after_cut_off=clock.now() > meeting.cut_off_at,
        kpis=meeting_kpis(meeting),
        missing=missing_disciplines(meeting),
        disciplines=core_disciplines(),
        members=[m for m in members() if m.display_name not in {a.name for a in present}]
        if runs
        else [],
        errors=errors or {},
        values=values or {},
        conflict=conflict,
        me=current_actor().user_id,
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
@readers
def show(meeting_id: int) -> tuple[str, int]:
    return _render_meeting(meeting_id)


def _change(meeting_id: int, act: Callable[[], Any], done: str | None = None) -> Any:
    """Run one change to the meeting; errors and conflicts re-render it with what was typed."""
    try:
        act()
    except InvalidInputError as error:
        return _render_meeting(meeting_id, error.errors, status=400, values=request.form)
    except ConflictError as error:
        return _render_meeting(meeting_id, conflict=str(error), status=409)
    if done:
        flash(done, "success")
    return redirect(_back_to_list(meeting_id))


@bp.post("/<int:meeting_id>/listings")
@runners
def add_patient(meeting_id: int) -> Any:
    form = request.form
    return _change(
        meeting_id,
        lambda: add_listing(
            current_actor(),
            meeting_id,
            form.get("task_id", 0, type=int),
            form.get("kind", "discussion"),
            form.get("late_reason"),
            _version(),
        ),
    )


@bp.post("/<int:meeting_id>/listings/<int:listing_id>/move")
@runners
def reorder(meeting_id: int, listing_id: int) -> Any:
    step = -1 if request.form.get("direction") == "up" else 1
    return _change(meeting_id, lambda: move_listing(current_actor(), listing_id, step, _version()))


@bp.post("/<int:meeting_id>/listings/<int:listing_id>/remove")
@runners
def remove_patient(meeting_id: int, listing_id: int) -> Any:
    return _change(meeting_id, lambda: remove_listing(current_actor(), listing_id, _version()))


@bp.post("/<int:meeting_id>/circulate")
@runners
def circulate_list(meeting_id: int) -> Any:
    return _change(
        meeting_id,
        lambda: circulate(current_actor(), meeting_id, _version()),
        "The list is locked and circulated.",
    )


@bp.post("/<int:meeting_id>/attendance")
@runners
def attendance(meeting_id: int) -> Any:
    form = request.form
    if form.get("user_id"):
        return _change(
            meeting_id,
            lambda: record_member_present(
                current_actor(), meeting_id, form.get("user_id", 0, type=int), _version()
            ),
        )
    return _change(
        meeting_id,
        lambda: record_attendance(
            current_actor(),
            meeting_id,
            form.get("name", ""),
            form.get("discipline", ""),
            form.get("present") != "no",
            _version(),
        ),
    )


@bp.post("/<int:meeting_id>/attendance/<int:attendance_id>/remove")
@runners
def remove_attendance(meeting_id: int, attendance_id: int) -> Any:
    return _change(
        meeting_id,
        lambda: remove_attendee(current_actor(), meeting_id, attendance_id, _version()),
    )


@bp.post("/<int:meeting_id>/close")
@runners
def close(meeting_id: int) -> Any:
    return _change(
        meeting_id,
        lambda: close_meeting(current_actor(), meeting_id, _version()),
        "Meeting closed. Patients not discussed were moved to the next meeting.",
    )


def _render_changes(
    meeting_id: int, errors: dict[str, str] | None = None, conflict: str | None = None
) -> tuple[str, int]:
    meeting = view_meeting(current_actor(), meeting_id)
    return render_template(
        "meetings/change.html",
        meeting=meeting,
        listed=len(active_listings(meeting)),
        destinations=upcoming_open(exclude=meeting.id),
        errors=errors or {},
        values=request.form,
        conflict=conflict,
    ), 409 if conflict else 400 if errors else 200


@bp.get("/<int:meeting_id>/change")
@runners
def changes(meeting_id: int) -> tuple[str, int]:
    return _render_changes(meeting_id)


def _renamed(errors: dict[str, str], prefix: str) -> dict[str, str]:
    # Both forms share a page: their fields are named apart.
    return {f"{prefix}_reason" if k == "reason" else k: v for k, v in errors.items()}


@bp.post("/<int:meeting_id>/reschedule")
@runners
def reschedule(meeting_id: int) -> Any:
    form = request.form
    try:
        move_meeting(
            current_actor(),
            meeting_id,
            form.get("day", ""),
            form.get("start_time", ""),
            form.get("move_reason", ""),
            _version(),
        )
    except InvalidInputError as error:
        return _render_changes(meeting_id, _renamed(error.errors, "move"))
    except ConflictError as error:
        return _render_changes(meeting_id, conflict=str(error))
    flash("The meeting has moved; its list moved with it.", "success")
    return redirect(url_for("meetings.show", meeting_id=meeting_id))


@bp.post("/<int:meeting_id>/cancel")
@runners
def cancel(meeting_id: int) -> Any:
    form = request.form
    try:
        target = cancel_meeting(
            current_actor(),
            meeting_id,
            form.get("cancel_reason", ""),
            form.get("to_meeting_id", type=int),
            _version(),
        )
    except InvalidInputError as error:
        return _render_changes(meeting_id, _renamed(error.errors, "cancel"))
    except ConflictError as error:
        return _render_changes(meeting_id, conflict=str(error))
    if target is None:
        flash("The meeting is cancelled. Nobody was listed.", "success")
        return redirect(url_for("meetings.index"))
    flash("The meeting is cancelled; its list has moved to this meeting.", "success")
    return redirect(url_for("meetings.show", meeting_id=target.id))


@bp.post("/<int:meeting_id>/listings/<int:listing_id>/ready")
@roles_required(*PREPARERS)
def ready(meeting_id: int, listing_id: int) -> Any:
    back = request.form.get("back") == "prepare"
    try:
        mark_ready(current_actor(), listing_id)
    except ConflictError as error:
        return _render_meeting(meeting_id, conflict=str(error), status=409)
    flash("Marked as ready to present.", "success")
    if back:
        return redirect(url_for("meetings.prepare", meeting_id=meeting_id))
    return redirect(url_for("meetings.listing", listing_id=listing_id))


@bp.get("/<int:meeting_id>/prepare")
@readers
def prepare(meeting_id: int) -> str:
    """What this member of the team must review before the meeting (their discipline)."""
    meeting = view_meeting(current_actor(), meeting_id)
    discipline = discipline_of(current_actor())
    return render_template(
        "meetings/prepare.html",
        meeting=meeting,
        discipline=discipline,
        listings=to_review(meeting, discipline),
        referrals=referrals(meeting),
        everyone=active_listings(meeting),
        me=current_actor().user_id,
    )


@bp.get("/<int:meeting_id>/present")
@readers
def present(meeting_id: int) -> Response:
    """Present the list one patient after another, from the first."""
    first = next(iter(active_listings(view_meeting(current_actor(), meeting_id))), None)
    if first is None:
        flash("Nobody is on the list to present.", "warning")
        return redirect(url_for("meetings.show", meeting_id=meeting_id))
    return redirect(url_for("meetings.listing", listing_id=first.id, present=1))


@bp.get("/<int:meeting_id>/list.pdf")
@readers
def list_pdf(meeting_id: int) -> Response:
    meeting = view_meeting(current_actor(), meeting_id)
    return pdf_response(
        "mdt_list.html",
        f"mdt-list-{meeting.id}.pdf",
        meeting=meeting,
        listings=active_listings(meeting),
        referrals=referrals(meeting),
        withdrawn=withdrawn_listings(meeting),
    )


@bp.get("/<int:meeting_id>/minutes.pdf")
@readers
def minutes_pdf(meeting_id: int) -> Response:
    meeting = view_meeting(current_actor(), meeting_id)
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
        attendees=attendees(meeting),
        missing=missing_disciplines(meeting),
    )


@bp.get("/<int:meeting_id>/list")
@readers
def printable(meeting_id: int) -> str:
    meeting = view_meeting(current_actor(), meeting_id)
    return render_template(
        "meetings/printable.html",
        meeting=meeting,
        listings=active_listings(meeting),
        referrals=referrals(meeting),
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
    runs = may_run_meetings(current_actor())
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
        presenting=bool(request.args.get("present")),
        fields=[]
        if confirmed or not runs
        else build_fields(form_at_meeting(schema), values or listing.outcome or {}, errors or {}),
        opens_at=opens_at(listing.meeting),
        answers=describe(schema, listing.outcome or {}) if confirmed else [],
        missing=missing_disciplines(listing.meeting),
        letter=letter,
        letter_fields=build_fields(letter_schema, {}, {})
        if letter and letter.status == "ready" and runs
        else [],
        letter_answers=describe(letter_schema, letter.data or {}) if letter else [],
        me=current_actor().user_id,
    ), status


@bp.get("/listings/<int:listing_id>")
@readers
def listing(listing_id: int) -> tuple[str, int]:
    return _render_listing(listing_id)


@bp.post("/listings/<int:listing_id>")
@runners
def outcome(listing_id: int) -> Response | tuple[str, int]:
    view = listing_for_view(current_actor(), listing_id, audit=False)
    item = view.listing
    schema = form_schema(item.task.instance.pathway_version, item.task.form) or {}
    data, raw, errors = parse_submission(form_at_meeting(schema), request.form)
    presenting: dict[str, Any] = {"present": 1} if request.form.get("presenting") else {}
    try:
        if request.form.get("action") == "draft":
            save_outcome_draft(
                current_actor(), listing_id, data, request.form.get("version", type=int)
            )
            flash("Outcome draft saved.", "success")
            return redirect(url_for("meetings.listing", listing_id=listing_id, **presenting))
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
    if presenting and view.next_id:
        return redirect(url_for("meetings.listing", listing_id=view.next_id, **presenting))
    return redirect(url_for("meetings.show", meeting_id=item.meeting_id))


@bp.post("/listings/<int:listing_id>/gp-letter")
@runners
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
@runners
def gp_letter_pdf(listing_id: int) -> Response:
    letter = gp_letter(current_actor(), listing_id)
    return pdf_response(
        "gp_letter.html",
        f"mdt-outcome-{letter.patient.nhs_number}.pdf",
        letter=letter,
        patient=letter.patient,
    )
