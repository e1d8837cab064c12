"""Entry point for gunicorn: `gunicorn wsgi:app`."""

import gc
import logging

from sqlalchemy.exc import SQLAlchemyError

from mdt import create_app
from mdt.extensions import db
from mdt.services.pathways import warm_engines
from workflows import EngineError

app = create_app()


def warm() -> None:
    """Compile the pathways here and in the engine workers before the first request: called
    by gunicorn.conf.py when a worker has loaded the app, before it accepts connections (not
    on import: `flask db upgrade` and the other commands load this module too). A database
    not yet migrated, or a version that no longer compiles, only means the first request
    compiles."""
    with app.app_context():
        try:
            warm_engines()
        except (SQLAlchemyError, EngineError) as error:
            logging.getLogger(__name__).warning("Engines not warmed at start: %s", error)
        finally:
            db.session.rollback()
            db.session.remove()
    gc.freeze()  # the compiled pathways live as long as the worker too


# Everything loaded so far (Flask, SQLAlchemy's mappers, the app, the compiled pathways)
# lives as long as the worker: moved out of the collector's sight, a collection no longer
# walks it, which cost about 0.75 ms a request before (0.07 ms after). Done on import, so in
# each gunicorn worker (or once before forking with --preload, keeping pages shared).
gc.freeze()
