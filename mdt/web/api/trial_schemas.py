"""Schemas of a pathway's test run (``POST /api/v1/pathways/{id}/test-run``)."""

from __future__ import annotations

from marshmallow import fields

from mdt.web.api.schemas import Strict


class TrialProblemSchema(Strict):
    message = fields.String(required=True)
    severity = fields.String(
        required=True,
        metadata={
            "enum": ["error", "warning", "note"],
            "description": "error: refuses the publish; warning: publishing needs "
            "confirm_warnings; note: for information",
        },
    )
    kind = fields.String(
        required=True,
        metadata={
            "enum": [
                "invalid",
                "run_error",
                "no_role",
                "stranded",
                "unreachable",
                "unset_data",
                "not_reached",
                "budget",
            ],
            "description": "invalid: the checks refuse it; run_error: it failed for a test "
            "patient; no_role: a task nobody can complete; stranded: a patient waits with "
            "nothing to move them on; unreachable: nothing leads to it; unset_data: a "
            "condition reads data nothing sets; not_reached: no test patient got there; "
            "budget: the run stopped at its limit",
        },
    )
    file = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    path = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The steps from the start that brought a test patient here"},
    )


class CoverageSchema(Strict):
    user_tasks_reached = fields.Integer(required=True)
    user_tasks = fields.Integer(required=True)
    branches_taken = fields.Integer(required=True)
    branches = fields.Integer(
        required=True,
        metadata={"description": "Outgoing flows of exclusive and inclusive gateways"},
    )


class TrialResultSchema(Strict):
    passed = fields.Boolean(required=True, metadata={"description": "No errors"})
    errors = fields.Integer(required=True)
    warnings = fields.Integer(required=True)
    problems = fields.List(fields.Nested(TrialProblemSchema), required=True)
    reached = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "By file: the elements and flows test patients reached"},
    )
    failed = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "By file: the elements where something failed"},
    )
    coverage = fields.Nested(CoverageSchema, allow_none=True, required=True)
    patients = fields.Integer(required=True)
    steps = fields.Integer(required=True)
    seconds = fields.Float(required=True)
    complete = fields.Boolean(
        required=True, metadata={"description": "Every test patient was followed to its end"}
    )


class PublishSchema(Strict):
    confirm_warnings = fields.Boolean(
        load_default=False,
        metadata={"description": "Publish although the test run found warnings (not errors)"},
    )
