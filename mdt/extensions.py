"""Extensions, created unbound and bound to the app in create_app()."""

from typing import Any

from flask import has_request_context
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RequestSession(Session):
    """A web request's session keeps what it loaded after its commit.

    A request commits once and then builds its response from the objects it has just
    written; expiring them at the commit would read the user, task, instance and version
    again only to show what the request itself saved. The session ends with the request (it
    belongs to the request's application context), so nothing kept can go stale in a later
    one. Sessions outside a request (the scheduler, commands, the HL7 listener, tests) live
    across transactions and keep the usual expire-on-commit, so each transaction reads afresh.
    """

    def __init__(self, db: Any, **kwargs: Any) -> None:
        super().__init__(db, **kwargs)
        self.expire_on_commit = not has_request_context()


db = SQLAlchemy(model_class=Base, session_options={"class_": RequestSession})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
