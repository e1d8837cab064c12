"""Domain errors and HTTP errors: NHS-style pages for people, one JSON shape for the API."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from mdt.extensions import db
from mdt.services.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PathwayFailedError,
    PathwayPausedError,
    PathwayRejectedError,
    PathwayWarningsError,
    PermissionDeniedError,
)
from mdt.web.api.errors import field_messages, is_api_request, json_error, pathway_paused

PAGES = {
    400: ("Sorry, there is a problem with the request", "Go back and try again."),
    403: (
        "You do not have access to this page",
        "Your roles do not include this page. If you think you need it, ask your administrator.",
    ),
    404: ("Page not found", "If you typed the web address, check it is correct."),
    409: ("Someone else changed this first", ""),
    500: ("Sorry, there is a problem with the service", "Try again later."),
    503: (
        "Sorry, the service is unavailable",
        "The database cannot be reached. Nothing was saved. Try again in a few minutes.",
    ),
}


def render_error(status: int, detail: str | None = None) -> tuple[str, int]:
    title, advice = PAGES[status]
    return render_template("error.html", title=title, advice=advice, detail=detail), status


def _answer(status: int, detail: str | None = None, details: dict[str, Any] | None = None) -> Any:
    if is_api_request():
        return json_error(status, detail, details)
    return render_error(status if status in PAGES else 400, detail)


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        status = error.code or 500
        if is_api_request():
            data = getattr(error, "data", None) or {}
            if status == 422 and "messages" in data:  # webargs: the request body's fields
                return json_error(422, None, field_messages(data["messages"]))
            return json_error(status)
        if status in PAGES:
            return render_error(status)
        return error

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return _answer(
            400,
            "The form had expired or was not sent from this service. "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(NotFoundError)
    def _not_found(error: NotFoundError) -> Any:
        return _answer(404, str(error))

    @app.errorhandler(InvalidInputError)
    def _invalid(error: InvalidInputError) -> Any:
        if is_api_request():
            return json_error(422, None, dict(error.errors))
        # Forms catch this themselves and re-render; this is for links such as CSV downloads.
        return render_error(400, " ".join(error.errors.values()))

    @app.errorhandler(PermissionDeniedError)
    def _denied(error: PermissionDeniedError) -> Any:
        return _answer(403, str(error))

    @app.errorhandler(PathwayRejectedError)
    def _rejected(error: PathwayRejectedError) -> Any:
        if is_api_request():
            details: dict[str, Any] = {"problems": error.problems}
            if error.report is not None:  # its test run, to draw on the diagram
                details["test_run"] = error.report
                details["needs_confirmation"] = isinstance(error, PathwayWarningsError)
            return json_error(422, str(error), details)
        return render_error(400, str(error))

    @app.errorhandler(PathwayFailedError)
    def _paused(error: PathwayFailedError) -> Any:
        if is_api_request():
            return pathway_paused(str(error), error.instance_id, error.reason)
        return render_error(500, str(error))

    @app.errorhandler(PathwayPausedError)
    def _found_paused(error: PathwayPausedError) -> Any:
        if is_api_request():
            return pathway_paused(str(error), error.instance_id, error.reason)
        advice = "A service manager has been told and can try it again once it is put right."
        page = render_template(
            "error.html", title="This patient's pathway is paused", advice=advice, detail=str(error)
        )
        return page, 409

    @app.errorhandler(ConflictError)
    def _conflict(error: ConflictError) -> Any:
        # Screens catch conflicts and show the page as it now is; the API says why.
        return _answer(409, str(error))

    @app.errorhandler(OperationalError)
    def _database_down(error: OperationalError) -> Any:
        db.session.rollback()
        return _answer(503)

    @app.errorhandler(500)
    def _server_error(error: Exception) -> Any:
        db.session.rollback()
        return _answer(500)
