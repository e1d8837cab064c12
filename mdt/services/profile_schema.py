"""The JSON Schema of a pathway's profile (`profile.json`), checked on upload before the
checks against the pathway itself (`profiles.profile_problems`). docs/pathway-authoring.md
("Pathway profile") explains every key."""

from __future__ import annotations

from typing import Any

_TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 500}
_NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 150}
_FIELDS: dict[str, Any] = {"type": "array", "items": _NAME, "minItems": 1, "maxItems": 20}

_SUMMARY_ITEM: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label", "fields"],
    "properties": {
        "label": _TEXT,
        "fields": _FIELDS,
        # true: every answer recorded so far, oldest first (e.g. every metastatic site);
        # otherwise the newest answer of the first field answered.
        "every_answer": {"type": "boolean"},
        "source": _TEXT,  # what the record says the row came from, for every_answer rows
    },
}

_REFERRALS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["forms", "when", "answer_field"],
    "properties": {
        "forms": {"type": "array", "items": _NAME, "minItems": 1, "maxItems": 50},
        "when": {
            "type": "object",
            "additionalProperties": False,
            "required": ["field", "equals"],
            "properties": {"field": _NAME, "equals": {"type": ["string", "boolean", "number"]}},
        },
        "answer_field": _NAME,
        "otherwise": {"type": "object", "additionalProperties": _TEXT},
    },
}

_SECTION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["heading"],
    "oneOf": [{"required": ["field"]}, {"required": ["referrals"]}],
    "properties": {
        "heading": _TEXT,
        "field": _NAME,
        # Answer -> the sentence the patient reads; an answer not listed leaves it out.
        "wording": {"type": "object", "additionalProperties": _TEXT},
        "referrals": _REFERRALS,
    },
}

_CODE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["display", "snomed", "snomed_display"],
    "properties": {"display": _TEXT, "snomed": _NAME, "snomed_display": _TEXT},
}

PROFILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Pathway profile",
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "short_name"],
    "properties": {
        "$schema": {"type": "string"},
        "title": {"type": "string", "minLength": 1, "maxLength": 120},
        "short_name": {"type": "string", "minLength": 1, "maxLength": 60},
        "email_subject_prefix": {"type": "string", "minLength": 1, "maxLength": 60},
        # What the pathway calls each kind of episode (its first episode's kind, or an
        # event's episode kind); without one, the kind itself or the event's label.
        "episode_labels": {"type": "object", "additionalProperties": _TEXT, "maxProperties": 30},
        "measures": {"const": "measures.json"},
        "summary": {"type": "array", "items": _SUMMARY_ITEM, "maxItems": 60},
        "index_date": {
            "type": "object",
            "additionalProperties": False,
            "required": ["task", "field", "wording"],
            "properties": {"task": _NAME, "field": _NAME, "wording": _TEXT},
        },
        "key_worker": {
            "type": "object",
            "additionalProperties": False,
            "required": ["role", "task", "name_field", "title"],
            "properties": {
                "role": _NAME,
                "task": _NAME,
                "name_field": _NAME,
                "phone_field": _NAME,
                "title": _TEXT,
            },
        },
        "care_plan": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "agreed_field": _NAME,
                "out_of_hours_field": _NAME,
                "sections": {"type": "array", "items": _SECTION, "maxItems": 30},
            },
        },
        "mdt_list": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "question_field": _NAME,
                "outcome_field": _NAME,
                "informed_field": _NAME,
                "needs": {
                    "type": "object",
                    "additionalProperties": False,
                    # No threshold here: which scores count is decided by the pathway's
                    # decision table, run by its business rule task ``decision_task``.
                    "required": ["form", "fields"],
                    "properties": {
                        "form": _NAME,
                        "fields": _FIELDS,
                        "decision_task": _NAME,
                    },
                },
            },
        },
        "conditions": {
            "type": "object",
            "additionalProperties": False,
            "required": ["fields", "system", "prefixes", "codes", "otherwise"],
            "properties": {
                "fields": _FIELDS,
                "system": _TEXT,
                "prefixes": {"type": "array", "items": _NAME, "minItems": 1},
                "codes": {"type": "object", "additionalProperties": _CODE},
                "otherwise": _CODE,  # display may hold {code}
            },
        },
    },
}
