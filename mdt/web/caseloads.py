"""Key workers and caseloads: a nurse's "My patients", naming a patient's key worker, and
moving a caseload from one nurse to another (cover and handover)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from mdt import clock
from mdt.models.roles import Role
from mdt.services.caseloads import (
    caseload,
    key_workers,
    move_caseload,
    set_key_worker,
)
from mdt.services.errors import InvalidInputError, NotFoundError
from mdt.services.patients import view_patient
from mdt.services.policy import CASELOAD_READERS, KEY_WORKER_SETTERS, REASSIGNERS
from mdt.web.access import current_actor, roles_required

bp = Blueprint("caseloads", __name__)


@bp.get("/caseload")
@roles_required(*CASELOAD_READERS)
def mine() -> tuple[str, int]:
    """A nurse's own caseload; coordinators and managers choose whose to see."""
    actor = current_actor()
    nurses = key_workers()
    nurse_id = request.args.get("nurse", type=int)
    if nurse_id is None and actor.has_role(Role.CNS):
        nurse_id = actor.user_id
    nurse = next((n for n in nurses if n.id == nurse_id), None)
    if nurse_id is not None and nurse is None and nurse_id != actor.user_id:
        raise NotFoundError("No such nurse")
    entries = caseload(actor, nurse_id) if nurse_id is not None else []
    return render_template(
        "caseloads/mine.html",
        nurse=nurse,
        own=nurse_id == actor.user_id,
        nurses=nurses,
        entries=entries,
        now=clock.now(),
    ), 200


def _handover_page(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    actor = current_actor()
    nurses = key_workers()
    from_id = request.values.get("from_id", type=int)
    source = next((n for n in nurses if n.id == from_id), None)
    entries = caseload(actor, source.id) if source is not None else []
    return render_template(
        "caseloads/handover.html",
        nurses=nurses,
        source=source,
        entries=entries,
        errors=errors or {},
        chosen={int(i) for i in request.form.getlist("patient_ids") if i.isdigit()},
        to_id=request.form.get("to_id", type=int),
        scope=request.form.get("scope", "all"),
    ), status


@bp.get("/caseload/handover")
@roles_required(*REASSIGNERS)
def handover() -> tuple[str, int]:
    return _handover_page()


@bp.post("/caseload/handover")
@roles_required(*REASSIGNERS)
def move() -> Response | tuple[str, int]:
    form = request.form
    chosen = None
    if form.get("scope") == "chosen":
        chosen = [int(i) for i in form.getlist("patient_ids") if i.isdigit()]
    try:
        moved = move_caseload(
            current_actor(),
            form.get("from_id", 0, type=int),
            form.get("to_id", 0, type=int),
            chosen,
        )
    except InvalidInputError as error:
        return _handover_page(error.errors, 400)
    who = moved[0].key_worker.display_name if moved[0].key_worker else "the new key worker"
    flash(f"{len(moved)} patient{'' if len(moved) == 1 else 's'} moved to {who}.", "success")
    return redirect(url_for("caseloads.handover", from_id=form.get("from_id")))


def _key_worker_page(
    patient_id: int, errors: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    record = view_patient(current_actor(), patient_id)
    patient = record.patient
    return render_template(
        "caseloads/key_worker.html",
        patient=patient,
        record=record,
        nurses=key_workers(),
        errors=errors or {},
        chosen=request.form.get("key_worker_id", type=int) or patient.key_worker_id,
        phone=request.form.get("phone", patient.key_worker_phone or ""),
    ), status


@bp.get("/patients/<int:patient_id>/key-worker")
@roles_required(*KEY_WORKER_SETTERS)
def key_worker(patient_id: int) -> tuple[str, int]:
    return _key_worker_page(patient_id)


@bp.post("/patients/<int:patient_id>/key-worker")
@roles_required(*KEY_WORKER_SETTERS)
def save_key_worker(patient_id: int) -> Response | tuple[str, int]:
    try:
        patient = set_key_worker(
            current_actor(),
            patient_id,
            request.form.get("key_worker_id", type=int),
            request.form.get("phone"),
        )
    except InvalidInputError as error:
        return _key_worker_page(patient_id, error.errors, 400)
    flash(f"{patient.key_worker_name} is now {patient.display_name}'s key worker.", "success")
    return redirect(url_for("patients.show", patient_id=patient_id))
