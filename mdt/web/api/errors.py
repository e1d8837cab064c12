"""One error shape for the whole API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from werkzeug.wrappers import Response

API_PREFIX = "/api/"

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
}
MESSAGES = {
    400: "The request could not be understood.",
    401: "Sign in, or send a valid API token as 'Authorization: Bearer <token>'.",
    403: "Your roles do not allow this.",
    404: "There is no such resource.",
    405: "This method is not allowed here.",
    409: "Someone else changed this first.",
    413: "The request is larger than this service accepts.",
    415: "Send JSON.",
    422: "The data is not valid.",
    429: "Too many requests.",
    500: "Something went wrong on our side.",
    503: "The database cannot be reached. Nothing was saved.",
}


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(
    status: int, message: str | None = None, details: dict[str, Any] | None = None
) -> tuple[Response, int]:
    body = {
        "error": {
            "code": CODES.get(status, "error"),
            "message": message or MESSAGES.get(status, "Error."),
            "details": details or {},
        }
    }
    return jsonify(body), status


PATHWAY_PAUSED = "pathway_paused"


def pathway_paused(
    message: str, instance_id: int | None, reason: str | None
) -> tuple[Response, int]:
    """The patient's pathway failed while this request ran it and is now paused (its last
    good state kept, the service managers told): 409 ``pathway_paused``, naming the pause."""
    body = {
        "error": {
            "code": PATHWAY_PAUSED,
            "message": message,
            "details": {
                "pathway_instance_id": instance_id,
                "pathway_status": "paused",
                "reason": reason or message,
            },
        }
    }
    return jsonify(body), 409


def field_messages(messages: Any) -> dict[str, str]:
    """webargs/marshmallow messages ({"json": {"field": ["..."]}}) as {"field": "..."}."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            flat[prefix] = " ".join(value)
        else:
            flat[prefix] = str(value)

    for location, inner in (messages or {}).items():
        walk("" if location in ("json", "query", "form", "path") else location, inner)
    return flat
