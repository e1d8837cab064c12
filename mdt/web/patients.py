from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from mdt.models.roles import Role
from mdt.services.care_plan import patient_care_plan
from mdt.services.errors import ConflictError, InvalidInputError, PathwayFailedError
from mdt.services.pathway_library import diagram_for
from mdt.services.patient_events import EVENT_KINDS, EVENT_ROLES, record_patient_event
from mdt.services.patients import RECORD_ROLES, find_patients, register_patient, view_patient
from mdt.web.access import current_actor, roles_required
from mdt.web.errors import render_error
from mdt.web.pdf import Document

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


@bp.get("")
@roles_required(*RECORD_ROLES)
def search() -> str:
    query = request.args.get("q", "")
    results = find_patients(current_actor(), query) if query else []
    return render_template("patients/search.html", query=query, results=results)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR, Role.CNS)
def register() -> Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("patients/register.html", values={}, errors={}), 200
    form = request.form
    born, parts, real = _date(form, "date_of_birth")
    values = {**form.to_dict(), "date_of_birth": parts}
    try:
        if not real:
            raise InvalidInputError({"date_of_birth": "Date of birth must be a real date"})
        patient = register_patient(
            current_actor(),
            form.get("nhs_number", ""),
            form.get("given_name", ""),
            form.get("family_name", ""),
            born,
            form.get("gp_practice"),
        )
    except InvalidInputError as error:
        return render_template("patients/register.html", values=values, errors=error.errors), 400
    except ConflictError as error:
        return render_template(
            "patients/register.html",
            values=values,
            errors={"nhs_number": str(error)},
            existing=getattr(error, "existing_id", None),
        ), 409
    flash(f"{patient.display_name} is registered and their pathway has started.", "success")
    return redirect(url_for("patients.show", patient_id=patient.id))


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
        event_kinds=EVENT_KINDS,
    )


@bp.route("/<int:patient_id>/events/new", methods=["GET", "POST"])
@roles_required(*EVENT_ROLES)
def new_event(patient_id: int) -> Response | tuple[str, int]:
    record = view_patient(current_actor(), patient_id)
    if request.method == "GET":
        return render_template(
            "patients/event.html",
            patient=record.patient,
            values={},
            errors={},
            event_kinds=EVENT_KINDS,
            record=record,
        ), 200
    form = request.form
    kind = form.get("kind", "")
    when, parts, real = _date(form, "date")
    details: dict[str, Any] = {
        k: v.strip() for k, v in form.items() if k in ("notes", "line", "destination") and v.strip()
    }
    if form.getlist("sites"):
        details["sites"] = form.getlist("sites")
    if when:
        details["date"] = when.isoformat()
    values = {**form.to_dict(), "date": parts, "sites": form.getlist("sites")}
    try:
        if not real:
            raise InvalidInputError({"date": "The date must be a real date"})
        record_patient_event(current_actor(), patient_id, kind, details)
    except InvalidInputError as error:
        return render_template(
            "patients/event.html",
            patient=record.patient,
            values=values,
            errors=error.errors,
            event_kinds=EVENT_KINDS,
            record=record,
        ), 400
    except ConflictError as error:
        return render_error(409, str(error))
    except PathwayFailedError as error:
        return render_error(500, str(error))
    flash(f"{EVENT_KINDS[kind].label} recorded for {record.patient.display_name}.", "success")
    return redirect(url_for("patients.show", patient_id=patient_id))


@bp.get("/<int:patient_id>/care-plan")
@roles_required(*RECORD_ROLES)
def care_plan(patient_id: int) -> str:
    plan = patient_care_plan(current_actor(), patient_id)
    return render_template("patients/care_plan.html", plan=plan, patient=plan.patient)


@bp.get("/<int:patient_id>/care-plan.pdf")
@roles_required(*RECORD_ROLES)
def care_plan_pdf(patient_id: int) -> Response:
    plan = patient_care_plan(current_actor(), patient_id, action="careplan.downloaded")
    patient = plan.patient
    doc = Document(
        f"Your care plan: {patient.given_name} {patient.family_name}",
        f"NHS number {patient.nhs_number_spaced}",
    )
    contact = plan.key_worker and (
        f"{plan.key_worker}" + (f", phone {plan.key_worker_phone}" if plan.key_worker_phone else "")
    )
    doc.section("Your key worker", contact or "Your key worker will be in touch soon.")
    doc.section("Out of hours", plan.out_of_hours)
    doc.section("The aim of your treatment", plan.aim)
    doc.section("What happens next", plan.next_steps)
    doc.section("Support you have been referred to", plan.support)
    doc.section("What matters to you", plan.what_matters)
    if plan.updated_at:
        doc.section("Last updated", plan.updated_at.strftime("%-d %B %Y"))
    filename = f"care-plan-{patient.nhs_number}.pdf"
    return Response(
        doc.output(),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
