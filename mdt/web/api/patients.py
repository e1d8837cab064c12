"""/api/v1/patients: search, register, read, the pathway, events and the FHIR export."""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask_smorest import Blueprint

from mdt.models.roles import Role
from mdt.services.fhir_export import patient_bundle
from mdt.services.pathway_choice import start_another_pathway
from mdt.services.patient_contact import ContactDetails
from mdt.services.patient_events import EVENT_ROLES, available_events, record_patient_event
from mdt.services.patient_standards import case_body, patient_cases
from mdt.services.patients import (
    RECORD_ROLES,
    DuplicateIdentifierError,
    Identity,
    find_patients,
    patient_pathway,
    read_patient,
    register_patient,
)
from mdt.web.access import current_actor, roles_required
from mdt.web.api.errors import json_error
from mdt.web.api.schemas import (
    AvailableEventSchema,
    ErrorSchema,
    EventSchema,
    FhirBundleSchema,
    NewPatientSchema,
    PathwayChoiceSchema,
    PathwaySchema,
    PatientSchema,
    PatientSearchSchema,
    RegisteredPatientSchema,
    StandardsCaseSchema,
    StartPathwaySchema,
)
from mdt.web.api.tasks import pathway_body

bp = Blueprint("api_patients", __name__, url_prefix="/api/v1", description="Patients")


@bp.route("/patients", methods=["GET"])
@bp.arguments(PatientSearchSchema, location="query")
@bp.response(200, PatientSchema(many=True))
@roles_required(*RECORD_ROLES)
def search(args: dict[str, Any]) -> Any:
    """Find patients (50 at most), as the screen's search does: ``q`` is names in any order
    (the start of each word is enough, accents and case ignored), an NHS number or its first
    digits (from 3, spaces allowed), a date of birth (12/03/1950, 12 March 1950,
    1950-03-12) or a hospital number; an old NHS or hospital number finds the record it now
    belongs to. ``nhs_number`` is an NHS number or its first digits only. With neither,
    nobody (there is no list of every patient)."""
    text = args.get("nhs_number") or args.get("q")
    return find_patients(current_actor(), text) if text else []


@bp.route("/patients", methods=["POST"])
@bp.arguments(NewPatientSchema)
@bp.response(201, RegisteredPatientSchema)
@bp.alt_response(409, schema=ErrorSchema, description="The NHS or hospital number is registered")
@roles_required(Role.COORDINATOR, Role.CNS)
def register(args: dict[str, Any]) -> Any:
    """Register a patient and start the pathway. 409 if the NHS number (or hospital number)
    is already registered, also as an old number of a merged record: ``details`` names the
    field and ``existing_patient_id``. NHS numbers in any script's digits are the same
    number. The patient is registered even when the pathway cannot start:
    ``pathway_status`` is then ``paused`` and ``pathway_problem`` says why; the service
    managers are told."""
    try:
        return register_patient(
            current_actor(),
            args["nhs_number"],
            args["given_name"],
            args["family_name"],
            args["date_of_birth"],
            args.get("gp_practice"),
            contact=ContactDetails(
                address_lines=tuple(args["address_lines"]),
                postcode=args.get("postcode"),
                gp_practice_code=args.get("gp_practice_code"),
                gp_practice_address_lines=tuple(args["gp_practice_address_lines"]),
                wants_letter_copies=args.get("wants_letter_copies"),
            ),
            identity=Identity(
                sex=args.get("sex"),
                mrn=args.get("mrn"),
                consultant_name=args.get("consultant_name"),
            ),
            pathway_key=args.get("pathway_key"),
        )
    except DuplicateIdentifierError as error:
        return json_error(
            409, str(error), {error.field: str(error), "existing_patient_id": error.existing_id}
        )


@bp.route("/patients/<int:patient_id>", methods=["GET"])
@bp.response(200, PatientSchema)
@roles_required(*RECORD_ROLES)
def show(patient_id: int) -> Any:
    return read_patient(current_actor(), patient_id)


@bp.route("/patients/<int:patient_id>/pathway", methods=["GET"])
@bp.arguments(PathwayChoiceSchema, location="query")
@bp.response(200, PathwaySchema)
@roles_required(*RECORD_ROLES)
def pathway(args: dict[str, Any], patient_id: int) -> Any:
    """The patient's current (or last) pathway, or with ``pathway_key`` their latest on that
    pathway (a patient can be on several): version, status, open and completed tasks."""
    return pathway_body(patient_pathway(current_actor(), patient_id, args.get("pathway_key")))


@bp.route("/patients/<int:patient_id>/pathways", methods=["POST"])
@bp.arguments(StartPathwaySchema)
@bp.response(201, PathwaySchema)
@roles_required(Role.COORDINATOR)
def start_pathway(args: dict[str, Any], patient_id: int) -> Any:
    """Start the patient on one more published pathway, beside those they are on (a trial's
    follow-up, a clinic): each keeps its own tasks and standards. Returns that pathway."""
    actor = current_actor()
    instance = start_another_pathway(actor, patient_id, args["pathway_key"])
    return pathway_body(patient_pathway(actor, patient_id, instance.pathway_version.key))


@bp.route("/patients/<int:patient_id>/events", methods=["GET"])
@bp.response(200, AvailableEventSchema(many=True))
@roles_required(*EVENT_ROLES)
def events(patient_id: int) -> Any:
    """The events you can record for the patient now, each with the JSON Schema of its form
    (the pathway decides: a progression, a change of treatment, a death...)."""
    return available_events(current_actor(), patient_id)


@bp.route("/patients/<int:patient_id>/events", methods=["POST"])
@bp.arguments(EventSchema)
@bp.response(201, PathwaySchema)
@roles_required(*EVENT_ROLES)
def event(args: dict[str, Any], patient_id: int) -> Any:
    """Record an event with its form's answers (422 with every problem at once); returns
    the pathway as it now stands."""
    actor = current_actor()
    record_patient_event(actor, patient_id, args["event"], args["data"])
    return pathway_body(patient_pathway(actor, patient_id))


@bp.route("/patients/<int:patient_id>/standards", methods=["GET"])
@bp.response(200, StandardsCaseSchema(many=True))
@roles_required(*RECORD_ROLES)
def standards(patient_id: int) -> Any:
    """Every case of every standard for the patient, by episode, with its status today: the
    same cases, and the same status, as the record's scorecard and the managers' report."""
    read_patient(current_actor(), patient_id, "standards")
    return [case_body(case) for case in patient_cases(patient_id)]


@bp.route("/patients/<int:patient_id>/fhir", methods=["GET"])
@bp.response(200, FhirBundleSchema, content_type="application/fhir+json")
@roles_required(*RECORD_ROLES)
def fhir(patient_id: int) -> Any:
    """The care plan as a FHIR R4 Bundle: Patient, Condition, CarePlan, Task, CareTeam."""
    bundle = patient_bundle(current_actor(), patient_id)
    return Response(json.dumps(bundle), mimetype="application/fhir+json")
