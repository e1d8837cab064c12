"""/api/v1/fhir/Patient: demographic updates from systems that speak FHIR R4 rather than
HL7 v2: the same processing as the PAS feed's ADT A31 (and a death report with
``deceasedDateTime``)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields

from mdt.services.pas import apply_fhir_patient
from mdt.services.policy import REGISTER_ROLES
from mdt.web.access import current_actor, roles_required

bp = Blueprint(
    "api_fhir_patient", __name__, url_prefix="/api/v1/fhir", description="FHIR Patient updates"
)


class FhirPatientSchema(Schema):
    """A FHIR R4 Patient resource (checked in full by fhir.resources)."""

    class Meta:
        unknown = INCLUDE

    resourceType = fields.String(required=True, metadata={"example": "Patient"})


class FhirPatientOutcomeSchema(Schema):
    outcome = fields.String(
        required=True,
        metadata={
            "description": "applied, not_applicable (nothing to change) or "
            "not_on_pathway (not registered here: nothing updated, counted)"
        },
    )
    patient_id = fields.Integer(allow_none=True)
    message = fields.String(required=True)
    death_reported = fields.Boolean(required=True)


@bp.route("/Patient/<nhs_number>", methods=["PUT"])
@bp.arguments(FhirPatientSchema)
@bp.response(200, FhirPatientOutcomeSchema)
@roles_required(*REGISTER_ROLES)
def put_patient(resource: dict[str, Any], nhs_number: str) -> Any:
    """Update the registered patient with this NHS number from a FHIR R4 Patient: names,
    birth date, gender, address and postcode, GP practice (ODS code), and a death
    (``deceasedDateTime``: off every MDT list, letters held, a coordinator confirms). 422 when
    the resource is not a valid Patient or cannot be applied; it is stored all the same."""
    return apply_fhir_patient(current_actor(), nhs_number, resource)
