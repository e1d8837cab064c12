"""Domain errors and HTTP errors as NHS-style pages."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError

from mdt.extensions import db
from mdt.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError

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


def register(app: Flask) -> None:
    for status in PAGES:
        app.register_error_handler(status, lambda e, s=status: render_error(s))

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        return render_error(
            400,
            "The form had expired or was not sent from this service. "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(NotFoundError)
    def _not_found(error: NotFoundError) -> tuple[str, int]:
        return render_error(404, str(error))

    @app.errorhandler(InvalidInputError)
    def _invalid(error: InvalidInputError) -> tuple[str, int]:
        # Forms catch this themselves and re-render; this is for links such as CSV downloads.
        return render_error(400, " ".join(error.errors.values()))

    @app.errorhandler(PermissionDeniedError)
    def _denied(error: PermissionDeniedError) -> tuple[str, int]:
        return render_error(403, str(error))

    @app.errorhandler(OperationalError)
    def _database_down(error: OperationalError) -> tuple[str, int]:
        db.session.rollback()
        return render_error(503)
