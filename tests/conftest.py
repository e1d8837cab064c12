"""Fixtures: one app and database per session, emptied after every test; factories.

Set MDT_TEST_DATABASE_URL to run the suite on PostgreSQL (CI does both).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from mdt import create_app
from mdt.extensions import db
from mdt.models import UserModel
from mdt.services.actor import SYSTEM, Actor, actor_for
from mdt.services.pathways import publish_files, read_pathway_directory
from mdt.services.users import create_user
from mdt.testing import FreshContextClient

from .timing import clock  # noqa: F401 - the fixture that sets the time

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PASSWORD = "correct horse battery staple"
TEST_DB_URL = os.environ.get("MDT_TEST_DATABASE_URL", "")


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    os.environ["MDT_INSTANCE_PATH"] = str(instance)
    if TEST_DB_URL:
        _reset_postgres(TEST_DB_URL)
        os.environ["MDT_DATABASE_URL"] = TEST_DB_URL
    else:
        os.environ.pop("MDT_DATABASE_URL", None)
    # Short enough that an endless script is stopped quickly, long enough that a busy CI
    # machine (two suites and a browser at once) does not stop an ordinary step.
    os.environ["MDT_ENGINE_TIME_LIMIT"] = "1.5"
    # Pathway code runs in this process in tests (faster); tests/test_engine_isolation.py and
    # the attack tests turn the engine workers on. MDT_ENGINE_ISOLATION=1 runs all with them.
    os.environ.setdefault("MDT_ENGINE_ISOLATION", "0")
    # A test run before publishing goes to its end however busy the machine: the same
    # report every time.
    os.environ["MDT_TEST_RUN_SECONDS"] = "600"
    app = create_app({"TESTING": True, "SECRET_KEY": "t" * 40})
    app.test_client_class = FreshContextClient
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own table names
    db.session.commit()


@pytest.fixture(autouse=True)
def _clean_database(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield
        db.session.rollback()
        _empty_tables()
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_user() -> Callable[..., UserModel]:
    counter = iter(range(1, 10_000))

    def make(*roles: str, username: str | None = None, discipline: str | None = None) -> UserModel:
        name = username or f"{'-'.join(roles).replace('_', '-') or 'user'}{next(counter)}"
        user, _ = create_user(SYSTEM, name, name.title(), roles or ["cns"], PASSWORD, discipline)
        return user

    return make


@pytest.fixture
def actor() -> Callable[[UserModel], Actor]:
    return actor_for


@pytest.fixture
def pathway() -> Any:
    """The real pathway in bpmn/, published."""
    bpmn, forms = read_pathway_directory(ROOT / "bpmn")
    return publish_files(SYSTEM, "secondary-breast-cancer", "Secondary breast cancer", bpmn, forms)


@pytest.fixture
def tiny_pathway() -> Any:
    """A second, unrelated pathway made of BPMN only."""
    bpmn, forms = read_pathway_directory(FIXTURES / "tiny")
    return publish_files(SYSTEM, "wound-care", "Wound care", bpmn, forms)


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


class Auth:
    def __init__(self, client: FlaskClient):
        self.client = client

    def login(self, username: str, password: str = PASSWORD) -> Any:
        token = csrf_token(self.client, "/sign-in")
        return self.client.post(
            "/sign-in", data={"username": username, "password": password, "csrf_token": token}
        )

    def post(
        self, url: str, data: dict[str, Any] | None = None, form_url: str | None = None
    ) -> Any:
        token = csrf_token(self.client, form_url or url)
        return self.client.post(url, data={**(data or {}), "csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)
