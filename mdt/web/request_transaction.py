"""The end of every request: bookkeeping no commit carried is written (``request_writes``)."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from mdt.extensions import db
from mdt.services.request_writes import settle

log = logging.getLogger(__name__)


def install_request_transaction(app: Flask) -> None:
    @app.teardown_request
    def _settle_bookkeeping(error: BaseException | None) -> None:
        try:
            settle()
        except SQLAlchemyError:
            # The response has gone; a database that failed now loses one minute's
            # "last used" mark at most, never the request's own work (already committed).
            db.session.rollback()
            log.exception("could not record a session's or token's use")
