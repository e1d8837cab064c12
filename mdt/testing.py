"""Support for tests and benchmarks that drive the app in process."""

from __future__ import annotations

from typing import Any

from flask import has_app_context
from flask.testing import FlaskClient

from mdt.extensions import db


class FreshContextClient(FlaskClient):
    """A test client whose every request gets its own application context.

    Flask reuses an application context that is already pushed (as it is while a test or a
    benchmark talks to the database), and with it ``g`` and the database session. Real
    requests never share them, so neither do ours: otherwise a signed-in user or a CSRF token
    cached in ``g`` could leak from one request into the next.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if has_app_context():
            db.session.expire_all()  # the caller's session sees what the request wrote
        return response
