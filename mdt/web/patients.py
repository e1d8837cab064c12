from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from mdt.models.roles import Role
from mdt.services.care_plan import patient_care_plan
from mdt.services.closing_corrections import closings_page, mark_entered_in_error
from mdt.services.errors import ConflictError, InvalidInputError, PathwayFailedError
from mdt.services.form_validation import split_hidden
from mdt.services.pas import pas_details
from mdt.services.pathway_choice import (
    default_pathway_key,
    other_pathways,
    start_another_pathway,
    startable_pathways,
)
from mdt.services.pathway_library import diagram_for
from mdt.services.patient_contact import ContactDetails, split_lines
from mdt.services.patient_events import (
    EVENT_ROLES,
    AvailableEvent,
    ClosePreview,
    available_events,
    preview_close,
    record_patient_event,
    running_instance,
)
from mdt.services.patients import (
    RECORD_ROLES,
    SEXES,
    DuplicateIdentifierError,
    Identity,
    find_patients,
    in_form_order,
    pathway_problem,
    register_patient,
    view_patient,
)
from mdt.web.access import current_actor, roles_required
from mdt.web.errors import render_error
from mdt.web.pdf import pdf_response
from mdt.web.schema_forms import build_fields, describe, not_kept_note, parse_submission

bp = Blueprint("patients", __name__, url_prefix="/patients")


def _date(form: MultiDict[str, str], name: str) -> tuple[date | None, dict[str, str], bool]:
    """(date or None, the three parts as typed, whether what was typed is a real date)"""
    parts = {p: form.get(f"{name}-{p}", "").strip() for p in ("day", "month", "year")}
    if not any(parts.values()):
        return None, parts, True
    try:
        return date(int(parts["year"]), int(parts["month"]), int(parts["day"])), parts, True
    except ValueError:
        return None, parts, False


def _contact(form: MultiDict[str, str]) -> ContactDetails:
    copies = form.get("wants_letter_copies")
    return ContactDetails(
        address_lines=split_lines(form.get("address_lines")),
        postcode=form.get("postcode"),
        gp_practice_code=form.get("gp_practice_code"),
        gp_practice_address_lines=split_lines(form.get("gp_practice_address_lines")),
        wants_letter_copies={"yes": True, "no": False}.get(copies or ""),
    )


SEARCH_PAGE = 50


@bp.get("")
@roles_required(*RECORD_ROLES)
def search() -> str:
    query = request.args.get("q", "").strip()[:200]
    results = find_patients(current_actor(), query, limit=SEARCH_PAGE + 1) if query else []
    return render_template(
        "patients/search.html",
        query=query,
        results=results[:SEARCH_PAGE],
        more=len(results) > SEARCH_PAGE,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR, Role.CNS)
def register() -> Response | tuple[str, int]:
    if request.method == "GET":
        return _register_page(*_from_pas(request.args.get("pas", "").strip()))
    form = request.form
    born, parts, real = _date(form, "date_of_birth")
    values = {**form.to_dict(), "date_of_birth": parts}
    try:
        patient = register_patient(
            current_actor(),
            form.get("nhs_number", ""),
            form.get("given_name", ""),
            form.get("family_name", ""),
            born,
            form.get("gp_practice"),
            contact=_contact(form),
            identity=Identity(
                sex=form.get("sex") or None,  # optional: "Unknown" is an answer
                mrn=form.get("mrn"),
                consultant_name=form.get("consultant_name"),
            ),
            date_of_birth_unreal=not real,
            pathway_key=form.get("pathway_key") or None,
        )
    except InvalidInputError as error:
        return _register_page(values, error.errors, status=400)
    except DuplicateIdentifierError as error:
        return _register_page(values, {error.field: str(error)}, error.existing_id, 409)
    except ConflictError as error:
        return _register_page(
            values, {"nhs_number": str(error)}, getattr(error, "existing_id", None), 409
        )
    problem = pathway_problem(patient.id)
    if problem:
        # Registered all the same: say what failed and who knows, not a server error.
        flash(
            f"{patient.display_name} is registered, but their pathway could not start and is "
            f"paused: {problem}. The service managers have been told; no tasks will appear "
            "until a manager starts it again.",
            "warning",
        )
    else:
        flash(f"{patient.display_name} is registered and their pathway has started.", "success")
    return redirect(url_for("patients.show", patient_id=patient.id))


def _from_pas(identifier: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The form filled from the PAS's latest message about this person (staff check it with
    the patient), or an error saying the PAS has sent nothing about them."""
    if not identifier:
        return {}, {}
    details = pas_details(current_actor(), identifier)
    if details is None:
        return {"pas": identifier}, {
            "pas": "The hospital system has sent nothing about this NHS number or hospital "
            "number: type the patient's details below"
        }
    person, born = details.person, details.person.date_of_birth
    values: dict[str, Any] = {
        "pas": identifier,
        "pas_received_at": details.received_at,
        "nhs_number": person.nhs_number or "",
        "mrn": person.mrn or "",
        "given_name": person.given_name or "",
        "family_name": person.family_name or "",
        "date_of_birth": {"day": born.day, "month": born.month, "year": born.year} if born else {},
        "sex": person.sex or "",
        "address_lines": "\n".join(person.address_lines),
        "postcode": person.postcode or "",
        "gp_practice_code": person.gp_practice_code or "",
    }
    return values, {}


def _register_page(
    values: dict[str, Any],
    errors: dict[str, str],
    existing: int | None = None,
    status: int = 200,
) -> tuple[str, int]:
    pathways = startable_pathways()
    return render_template(
        "patients/register.html",
        values=values,
        errors=in_form_order(errors),
        existing=existing,
        sexes=SEXES,
        pathways=pathways,
        pathway_options=[(choice.key, choice.title) for choice in pathways],
        default_pathway=default_pathway_key(pathways),
    ), status


@bp.get("/<int:patient_id>")
@roles_required(*RECORD_ROLES)
def show(patient_id: int) -> str:
    record = view_patient(current_actor(), patient_id)
    diagram = diagram_for(record)
    return render_template(
        "patients/record.html",
        record=record,
        patient=record.patient,
        diagram=diagram,
    )


@bp.route("/<int:patient_id>/pathways/new", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def start_pathway(patient_id: int) -> Response | tuple[str, int]:
    """Start the patient on one more published pathway, beside those they are on."""
    record = view_patient(current_actor(), patient_id)
    if request.method == "GET":
        return _start_pathway_page(record, {})
    key = request.form.get("pathway_key", "")
    try:
        instance = start_another_pathway(current_actor(), patient_id, key)
    except InvalidInputError as error:
        return _start_pathway_page(record, error.errors, 400)
    except ConflictError as error:
        return _start_pathway_page(record, {"pathway_key": str(error)}, 409)
    title = instance.pathway_version.title
    if instance.status == "error":
        flash(
            f"{record.patient.display_name} is on the {title} but it could not start and is "
            f"paused: {instance.error_message}. The service managers have been told.",
            "warning",
        )
    else:
        flash(f"{record.patient.display_name} has started the {title}.", "success")
    return redirect(url_for("patients.show", patient_id=patient_id))


def _start_pathway_page(record: Any, errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    choices = other_pathways(record.patient.id)
    return render_template(
        "patients/start_pathway.html",
        record=record,
        patient=record.patient,
        options=[(choice.key, choice.title) for choice in choices],
        errors=errors,
        value=request.form.get("pathway_key", ""),
    ), status


@bp.route("/<int:patient_id>/events/new", methods=["GET", "POST"])
@roles_required(*EVENT_ROLES)
def new_event(patient_id: int) -> Response | tuple[str, int]:
    """Choose what happened, then fill in that event's form (the pathway declares both)."""
    actor = current_actor()
    record = view_patient(actor, patient_id)
    key = _event_pathway()
    events = available_events(actor, patient_id, key)
    chosen = next((e for e in events if e.name == request.values.get("event")), None)
    if chosen is None:
        return _event_page(record, events, None, {}, {}, 400 if request.method == "POST" else 200)
    if request.method == "GET":
        return _event_page(record, events, chosen, {}, {})
    data, raw, errors = parse_submission(chosen.schema, request.form)
    not_kept = split_hidden(chosen.schema, data)[1]
    # Death, discharge and transfer: a page saying what will happen, then "Confirm".
    confirming = chosen.closes and request.form.get("confirm") == "yes"
    try:
        if errors:
            raise InvalidInputError(errors)
        if chosen.closes and not confirming:
            preview = preview_close(actor, patient_id, chosen.name, data, key)
            return _confirm_page(record, preview, data, not_kept)
        record_patient_event(
            actor, patient_id, chosen.name, data, request.form.get("version", type=int), key
        )
    except InvalidInputError as error:
        return _event_page(record, events, chosen, raw, error.errors, 400)
    except ConflictError as error:
        if confirming and running_instance(patient_id, key) is not None:
            preview = preview_close(actor, patient_id, chosen.name, data, key)
            return _confirm_page(record, preview, data, not_kept, str(error), 409)
        return render_error(409, str(error))
    except PathwayFailedError as error:
        return render_error(500, str(error))
    flash(
        f"{chosen.label} recorded for {record.patient.display_name}." + not_kept_note(not_kept),
        "success",
    )
    return redirect(url_for("patients.show", patient_id=patient_id))


def _confirm_page(
    record: Any,
    preview: ClosePreview,
    data: dict[str, Any],
    not_kept: list[str],
    conflict: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """Nothing has changed yet: what recording this close will do, and the answers carried
    in hidden fields to the "Confirm" button (hidden answers already removed, and said)."""
    kept = split_hidden(preview.event.schema, data)[0]
    dropped = set(data) - set(kept)
    answers = [
        (key, value)
        for key, value in request.form.items(multi=True)
        if key not in ("csrf_token", "confirm", "version", "event", "pathway")
        and key.removesuffix("-day").removesuffix("-month").removesuffix("-year") not in dropped
    ]
    return render_template(
        "patients/event_confirm.html",
        record=record,
        patient=record.patient,
        preview=preview,
        chosen=preview.event,
        answers=answers,
        summary=describe(preview.event.schema, kept),
        not_kept=not_kept,
        conflict=conflict,
        pathway_key=_event_pathway(),
    ), status


def _event_pathway() -> str | None:
    """The pathway an event is recorded on, for a patient on several (None: the default)."""
    return request.values.get("pathway") or None


def _event_page(
    record: Any,
    events: list[AvailableEvent],
    chosen: AvailableEvent | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> tuple[str, int]:
    if chosen is None and request.method == "POST":
        errors = {"event": "Select what happened"}
    return render_template(
        "patients/event.html",
        record=record,
        patient=record.patient,
        events=events,
        chosen=chosen,
        fields=build_fields(chosen.schema, values, errors) if chosen else [],
        errors=errors,
        pathway_key=_event_pathway(),
    ), status


@bp.get("/<int:patient_id>/closings")
@roles_required(Role.MANAGER)
def closings(patient_id: int) -> tuple[str, int]:
    """The deaths, discharges and transfers recorded for the patient; a manager can mark one
    entered in error, which puts the pathway back as it was."""
    return _closings_page(patient_id)


@bp.post("/<int:patient_id>/closings/<int:closing_id>")
@roles_required(Role.MANAGER)
def correct_closing(patient_id: int, closing_id: int) -> Response | tuple[str, int]:
    try:
        closing = mark_entered_in_error(
            current_actor(), patient_id, closing_id, request.form.get("reason", "")
        )
    except InvalidInputError as error:
        return _closings_page(patient_id, error.errors, closing_id, 400)
    except ConflictError as error:
        return _closings_page(patient_id, {"reason": str(error)}, closing_id, 409)
    flash(
        f"The {closing.reason} recorded for {closing.patient.display_name} is marked entered "
        "in error: their pathway is back as it was before it.",
        "success",
    )
    return redirect(url_for("patients.show", patient_id=patient_id))


def _closings_page(
    patient_id: int,
    errors: dict[str, str] | None = None,
    closing_id: int | None = None,
    status: int = 200,
) -> tuple[str, int]:
    record = view_patient(current_actor(), patient_id)
    return render_template(
        "patients/closings.html",
        record=record,
        patient=record.patient,
        views=closings_page(current_actor(), patient_id),
        errors=errors or {},
        failed_id=closing_id,
        reason=request.form.get("reason", ""),
    ), status


@bp.get("/<int:patient_id>/care-plan")
@roles_required(*RECORD_ROLES)
def care_plan(patient_id: int) -> str:
    plan = patient_care_plan(current_actor(), patient_id)
    return render_template("patients/care_plan.html", plan=plan, patient=plan.patient)


@bp.get("/<int:patient_id>/care-plan.pdf")
@roles_required(*RECORD_ROLES)
def care_plan_pdf(patient_id: int) -> Response:
    plan = patient_care_plan(current_actor(), patient_id, action="careplan.downloaded")
    return pdf_response(
        "care_plan.html",
        f"care-plan-{plan.patient.nhs_number}.pdf",
        plan=plan,
        patient=plan.patient,
    )
