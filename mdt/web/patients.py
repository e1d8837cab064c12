from __future__ import annotations

from flask import Blueprint, render_template, request

from mdt.services.patients import RECORD_ROLES, find_patients, view_patient
from mdt.web.access import current_actor, roles_required

bp = Blueprint("patients", __name__, url_prefix="/patients")


@bp.get("")
@roles_required(*RECORD_ROLES)
def search() -> str:
    query = request.args.get("q", "")
    results = find_patients(current_actor(), query) if query else []
    return render_template("patients/search.html", query=query, results=results)


@bp.get("/<int:patient_id>")
@roles_required(*RECORD_ROLES)
def show(patient_id: int) -> str:
    record = view_patient(current_actor(), patient_id)
    return render_template("patients/record.html", record=record, patient=record.patient)
