"""What the API reads and writes, as marshmallow schemas (they also write the OpenAPI)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from mdt.models.roles import TASK_ROLES
from mdt.services.outside_meetings import needs_declaration, outcome_of
from mdt.services.pathways import form_schema
from mdt.services.patient_identity import nhs_digits
from mdt.services.patients import pathway_problem


class Strict(Schema):
    class Meta:
        ordered = True


class ErrorBodySchema(Strict):
    code = fields.String(required=True, metadata={"example": "invalid"})
    message = fields.String(required=True)
    details = fields.Dict(
        required=True, metadata={"description": "For invalid data: each field and its problem."}
    )


class ErrorSchema(Strict):
    error = fields.Nested(ErrorBodySchema, required=True)


# -- patients -------------------------------------------------------------------------


def _nhs_digits_only(value: str) -> None:
    if not nhs_digits(value).isdigit() or not nhs_digits(value).isascii():
        raise ValidationError("Give an NHS number's digits (spaces allowed).")


class PatientSchema(Strict):
    id = fields.Integer(required=True)
    nhs_number = fields.String(required=True, metadata={"example": "9990000018"})
    given_name = fields.String(required=True)
    family_name = fields.String(required=True)
    date_of_birth = fields.Date(allow_none=True)
    sex = fields.String(
        allow_none=True, metadata={"enum": ["female", "male", "other", "unknown", None]}
    )
    mrn = fields.String(
        allow_none=True, metadata={"description": "The hospital number.", "example": "RXH1234567"}
    )
    consultant_name = fields.String(
        allow_none=True, metadata={"description": "The responsible consultant."}
    )
    address_lines = fields.List(fields.String(), metadata={"description": "Without the postcode."})
    postcode = fields.String(allow_none=True, metadata={"example": "LS1 4AP"})
    gp_practice = fields.String(allow_none=True, metadata={"description": "The practice's name."})
    gp_practice_code = fields.String(
        allow_none=True, metadata={"description": "The practice's ODS code.", "example": "A81001"}
    )
    gp_practice_address_lines = fields.List(
        fields.String(), metadata={"description": "With the postcode."}
    )
    wants_letter_copies = fields.Boolean(
        allow_none=True,
        metadata={"description": "Whether the patient wants copies of letters (null: not asked)."},
    )
    key_worker_name = fields.String(allow_none=True)
    key_worker_phone = fields.String(allow_none=True)


class RegisteredPatientSchema(PatientSchema):
    pathway_status = fields.Method(
        "_status",
        metadata={"description": "running, or paused when the pathway could not start"},
    )
    pathway_problem = fields.Method(
        "_problem",
        allow_none=True,
        metadata={"description": "Why the pathway is paused (the managers have been told)"},
    )

    def _problem(self, patient: Any) -> str | None:
        return pathway_problem(patient.id)

    def _status(self, patient: Any) -> str:
        return "paused" if pathway_problem(patient.id) else "running"


class PatientSearchSchema(Strict):
    nhs_number = fields.String(
        validate=[validate.Length(min=1, max=20), _nhs_digits_only],
        metadata={"description": "An NHS number or its first digits (from 3; spaces allowed)."},
    )
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "Names in any order (the start of each word), an NHS number or its "
            "first digits, a date of birth (12/03/1950, 12 March 1950, 1950-03-12) or a "
            "hospital number."
        },
    )


class NewPatientSchema(Strict):
    nhs_number = fields.String(
        required=True,
        # Any script's digits (\d), spaces or hyphens; \Z: no trailing newline. The service
        # reads them as ASCII digits and checks the check digit.
        validate=validate.Regexp(r"[\d \-]{10,20}\Z"),
        metadata={
            "description": "Ten digits, spaces or hyphens allowed; the check digit is checked.",
            "example": "943 476 5919",
        },
    )
    given_name = fields.String(required=True, validate=validate.Length(max=100))
    family_name = fields.String(required=True, validate=validate.Length(max=100))
    date_of_birth = fields.Date(required=True)
    sex = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["female", "male", "other", "unknown"]),
        metadata={"description": "Administrative sex as the PAS records it (null: not known)."},
    )
    mrn = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=30),
        metadata={
            "description": "The hospital number (MRN): letters and digits, stored in capitals.",
            "example": "RXH1234567",
        },
    )
    consultant_name = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"description": "The responsible consultant's name."},
    )
    address_lines = fields.List(
        fields.String(validate=validate.Length(max=100)),
        load_default=list,
        validate=validate.Length(max=5),
        metadata={"description": "The patient's address without the postcode, a line each."},
    )
    postcode = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=10),
        metadata={"description": "A UK postcode; required with an address.", "example": "LS1 4AP"},
    )
    gp_practice = fields.String(
        load_default=None, validate=validate.Length(max=200), metadata={"description": "Its name."}
    )
    gp_practice_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=10),
        metadata={"description": "ODS code: a letter and 5 digits.", "example": "A81001"},
    )
    gp_practice_address_lines = fields.List(
        fields.String(validate=validate.Length(max=100)),
        load_default=list,
        validate=validate.Length(max=5),
        metadata={"description": "The practice's address with its postcode, a line each."},
    )
    wants_letter_copies = fields.Boolean(
        load_default=None,
        allow_none=True,
        metadata={"description": "Copies of letters about them go to the patient too."},
    )
    pathway_key = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=80),
        metadata={
            "description": "The published pathway to start (GET /api/v1/pathways lists them; "
            "null: the default, MDT_DEFAULT_PATHWAY). An unknown or unpublished key is 422.",
            "example": "secondary-breast-cancer",
        },
    )


# -- tasks ----------------------------------------------------------------------------


class TaskSchema(Strict):
    id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True)
    instance_id = fields.Integer(required=True)
    name = fields.String(required=True)
    bpmn_id = fields.String(required=True)
    role = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": ["ready", "completed", "cancelled"]})
    standards = fields.List(fields.String(), attribute="standard_codes")
    created_at = fields.DateTime(required=True)
    due_at = fields.DateTime(allow_none=True)
    assigned_to = fields.String(attribute="assigned_to.username", allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(attribute="completed_by.username", allow_none=True)


class TaskDetailSchema(TaskSchema):
    instructions = fields.String(allow_none=True)
    form = fields.String(allow_none=True)
    form_schema = fields.Method(
        "_form_schema",
        metadata={"type": "object", "nullable": True,
                  "description": "JSON Schema the completion data must meet."},
    )  # fmt: skip
    data = fields.Dict(allow_none=True, metadata={"description": "What was submitted."})
    outside_meeting_required = fields.Method(
        "_outside_meeting_required",
        metadata={
            "type": "boolean",
            "description": "An MDT outcome waiting to be decided: completing it here needs "
            "`outside_meeting` (at a meeting the coordinator confirms it).",
        },
    )
    mdt_decision = fields.Method(
        "_mdt_decision",
        metadata={
            "type": "object",
            "nullable": True,
            "description": "A completed MDT outcome: `at_meeting`, `meeting_id`, `decided_on`; "
            "decided outside a meeting, its `reason` and `clinicians`.",
        },
    )

    def _form_schema(self, task: Any) -> dict[str, Any] | None:
        return form_schema(task.instance.pathway_version, task.form)

    def _outside_meeting_required(self, task: Any) -> bool:
        return needs_declaration(task)

    def _mdt_decision(self, task: Any) -> dict[str, Any] | None:
        outcome = outcome_of(task)
        if outcome is None:
            return None
        return {
            "at_meeting": outcome.at_meeting,
            "meeting_id": outcome.listing.meeting_id if outcome.listing else None,
            "decided_on": outcome.decided_on.isoformat(),
            "reason": None if outcome.at_meeting else outcome.reason,
            "clinicians": outcome.clinicians,
        }


class CompletedTaskSchema(TaskDetailSchema):
    next_tasks = fields.List(
        fields.Nested(TaskSchema),
        required=True,
        metadata={
            "description": "The patient's tasks now ready that wait for you (one of your roles, "
            "given to no one else; the worklist's rule), oldest first: a client walking the "
            "pathway needs no second call to find them."
        },
    )


class TaskSearchSchema(Strict):
    role = fields.String(validate=validate.OneOf(sorted(TASK_ROLES)))
    assigned = fields.String(
        validate=validate.OneOf(["me"]), metadata={"description": "Only tasks assigned to me."}
    )
    overdue = fields.Boolean()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class TaskPageSchema(Strict):
    total = fields.Integer(required=True, metadata={"description": "Capped at 1,001."})
    page = fields.Integer(required=True)
    tasks = fields.List(fields.Nested(TaskSchema), required=True)


class DecidingClinicianSchema(Strict):
    name = fields.String(required=True, metadata={"example": "Dr Amara Okafor"})
    discipline = fields.String(required=True, metadata={"example": "oncology"})


class OutsideMeetingSchema(Strict):
    reason = fields.String(
        required=True, metadata={"example": "Urgent decision between meetings: cord compression"}
    )
    clinicians = fields.List(
        fields.Nested(DecidingClinicianSchema),
        required=True,
        metadata={
            "description": "Who decided: at least two clinicians from at least two disciplines."
        },
    )


class CompletionSchema(Strict):
    data = fields.Dict(
        required=True,
        metadata={"description": "The answers, as the task's form_schema describes them."},
    )
    outside_meeting = fields.Nested(
        OutsideMeetingSchema,
        metadata={
            "description": "Required where the task says `outside_meeting_required` (an MDT "
            "outcome: outcomes are confirmed at a meeting, and one completed here is declared "
            "as decided outside a meeting, with why and by whom). Refused for any other task."
        },
    )


# -- pathway and events ---------------------------------------------------------------


class PathwaySchema(Strict):
    instance_id = fields.Integer(required=True)
    pathway = fields.String(required=True)
    version = fields.Integer(required=True)
    version_id = fields.Integer(required=True)
    status = fields.String(required=True)
    started_at = fields.DateTime(required=True)
    index_date = fields.Date(allow_none=True)
    in_care = fields.Boolean(
        required=True, metadata={"description": "Running, and care has not ended."}
    )
    closed_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "When care ended: the date recorded (the date of death, of the "
            "transfer), not when it was typed. The pathway may still run its follow-up tasks."
        },
    )
    close_reason = fields.String(
        allow_none=True, metadata={"enum": ["death", "discharge", "transfer"]}
    )
    open_tasks = fields.List(fields.Nested(TaskSchema), required=True)
    completed_tasks = fields.List(fields.Nested(TaskSchema), required=True)


class StartPathwaySchema(Strict):
    pathway_key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=80),
        metadata={
            "description": "A published pathway the patient is not already on (422 if unknown "
            "or unpublished, 409 if they are on it and their care on it has not ended).",
            "example": "lymphoedema-clinic",
        },
    )


class PathwayChoiceSchema(Strict):
    pathway_key = fields.String(
        validate=validate.Length(min=1, max=80),
        metadata={"description": "Which of the patient's pathways (default: the latest)."},
    )


class EventSchema(Strict):
    event = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The event's name, from GET .../events (e.g. progression)."},
    )
    data = fields.Dict(
        load_default=dict,
        metadata={"description": "Answers to the event's form (its JSON Schema is listed)."},
    )


class AvailableEventSchema(Strict):
    name = fields.String(required=True)
    label = fields.String(required=True)
    hint = fields.String(required=True)
    closes = fields.String(allow_none=True, metadata={"description": "Ends care: death, ..."})
    episode = fields.String(allow_none=True, metadata={"description": "Starts an episode"})
    form_schema = fields.Dict(
        attribute="schema", metadata={"description": "JSON Schema the data must meet."}
    )


# -- meetings -------------------------------------------------------------------------


class MeetingSchema(Strict):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    location = fields.String()
    status = fields.String(required=True)
    cut_off_at = fields.DateTime(required=True)


class ListingSchema(Strict):
    id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True)
    nhs_number = fields.String(attribute="patient.nhs_number")
    patient_name = fields.String(attribute="patient.display_name")
    kind = fields.String(required=True)
    status = fields.String(required=True)
    late = fields.Boolean()
    clinical_question = fields.String()
    outcome = fields.Dict(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)


class AttendanceSchema(Strict):
    name = fields.String(required=True)
    discipline = fields.String(required=True)
    present = fields.Boolean(required=True)


class MeetingDetailSchema(MeetingSchema):
    listings = fields.List(fields.Nested(ListingSchema), required=True)
    attendance = fields.List(fields.Nested(AttendanceSchema), required=True)


# -- pathways and reports -------------------------------------------------------------


class PathwayVersionSchema(Strict):
    id = fields.Integer(required=True)
    key = fields.String(required=True)
    name = fields.String(required=True, attribute="title")
    version = fields.Integer(required=True)
    status = fields.String(required=True)
    published_at = fields.DateTime(allow_none=True)
    sha256 = fields.String(
        required=True,
        metadata={"description": "Fingerprint of the files; send it back when saving a draft."},
    )


class PathwayFileSchema(Strict):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=160),
        metadata={"description": "A .bpmn diagram or a .json form (JSON Schema)."},
    )
    content = fields.String(required=True, metadata={"description": "The file's text."})

    @validates_schema
    def _text(self, data: dict[str, Any], **kwargs: Any) -> None:
        # JSON can carry lone surrogates ("\\udcff"): not text any file can hold.
        try:
            data.get("content", "").encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(
                f"{data.get('name', 'The file')} is not valid UTF-8 text.", "content"
            ) from None


class NewPathwaySchema(Strict):
    key = fields.String(
        required=True,
        validate=validate.Length(min=2, max=80),
        metadata={"description": "The pathway's key: a new version of it, or a new pathway."},
    )
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    files = fields.List(
        fields.Nested(PathwayFileSchema), required=True, validate=validate.Length(min=1, max=50)
    )
    process_id = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={
            "description": "The process that starts the pathway, when the files have several "
            "executable processes no other calls (empty: the checks find it)."
        },
    )


class DraftFilesSchema(Strict):
    expected_sha256 = fields.String(
        required=True,
        validate=validate.Length(equal=64),
        metadata={"description": "The draft's sha256 when you loaded it: 409 if it changed."},
    )
    files = fields.List(
        fields.Nested(PathwayFileSchema), required=True, validate=validate.Length(min=1, max=50)
    )
    process_id = fields.String(
        validate=validate.Length(max=200),
        metadata={
            "description": "The process that starts the pathway (empty: the checks find it). "
            "Left out, the draft keeps its choice while its files still hold that process."
        },
    )


class ProblemSchema(Strict):
    message = fields.String(
        required=True, metadata={"description": "What is wrong and what to do, in plain English."}
    )
    file = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    element_id = fields.String(
        allow_none=True,
        metadata={"description": "The shape it is about: a task, event, gateway, flow, pool."},
    )
    element_name = fields.String(allow_none=True)
    element_type = fields.String(
        allow_none=True, metadata={"description": "The shape's kind, e.g. 'user task'."}
    )
    details = fields.String(
        allow_none=True,
        metadata={"description": "The BPMN schema's or the engine's own text, when translated."},
    )


class ValidationSchema(Strict):
    valid = fields.Boolean(required=True)
    problems = fields.List(fields.Nested(ProblemSchema), required=True)


class SavedDraftSchema(ValidationSchema):
    version = fields.Nested(PathwayVersionSchema, required=True)


class ReportQuerySchema(Strict):
    from_ = fields.Date(
        data_key="from", metadata={"description": "First day (default: a year ago)."}
    )
    to = fields.Date(metadata={"description": "Last day (default: today)."})
    cohort = fields.String(
        load_default="all",
        validate=validate.Length(max=40),
        metadata={"description": "all, or a kind of episode (diagnosis, progression, ...)"},
    )
    pathway_key = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=80),
        metadata={"description": "The pathway whose measures (default: secondary-breast-cancer)."},
    )


STATUS_ENUM = ["met", "met_late", "declined", "overdue", "missed", "pending", "not_applicable"]


class KpiFigureSchema(Strict):
    key = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "The standard: IS1 ... PC3"})
    title = fields.String(required=True)
    target = fields.Integer(required=True, metadata={"description": "Local target, percent"})
    achieved = fields.Integer(required=True, metadata={"description": "Met, or declined"})
    counted = fields.Integer(
        required=True, metadata={"description": "Achieved, met late, missed or overdue"}
    )
    percent = fields.Float(allow_none=True)
    status = fields.String(required=True, metadata={"enum": ["green", "amber", "red", "none"]})
    counts = fields.Dict(
        keys=fields.String(metadata={"enum": STATUS_ENUM}), values=fields.Integer(), required=True
    )


class StandardsCaseSchema(Strict):
    measure = fields.String(required=True)
    code = fields.String(required=True)
    title = fields.String(required=True)
    episode_id = fields.Integer(allow_none=True)
    episode = fields.String(required=True, metadata={"description": "The episode's kind"})
    status = fields.String(required=True, metadata={"enum": STATUS_ENUM})
    status_label = fields.String(required=True)
    why = fields.String(required=True)
    clock_started = fields.Date(required=True)
    deadline = fields.Date(allow_none=True)
    done = fields.Date(allow_none=True)
    closed = fields.Date(allow_none=True)
    recorded_days_late = fields.Integer(allow_none=True)
    task_id = fields.Integer(
        allow_none=True, metadata={"description": "The task that opened the case"}
    )
    evidence_task_id = fields.Integer(
        allow_none=True, metadata={"description": "The task that evidences it, if any"}
    )
    open_task_id = fields.Integer(
        allow_none=True, metadata={"description": "The open task it waits on, if any"}
    )


class StandardsReportSchema(Strict):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    cohort = fields.String(required=True)
    pathway_key = fields.String(required=True)
    figures = fields.List(fields.Nested(KpiFigureSchema), required=True)


class FhirBundleSchema(Schema):
    class Meta:
        unknown = "include"

    resourceType = fields.String(required=True, metadata={"example": "Bundle"})
    type = fields.String(required=True)
    entry = fields.List(fields.Dict(), required=True)
