"""A fresh benchmark database with the pathway, users and a cohort."""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from mdt import PROJECT_ROOT, create_app
from mdt.benchmarks import cohort
from mdt.benchmarks.measure import PASSWORD
from mdt.extensions import db
from mdt.services.actor import SYSTEM, actor_for
from mdt.services.pathways import DEFAULT_PATHWAY_KEY, publish_files, read_pathway_directory
from mdt.services.report_cases import rebuild_cases
from mdt.services.users import create_user, find_user
from mdt.testing import FreshContextClient

BENCH_USERS = {
    "bench-coordinator": ["coordinator"],
    "bench-cns": ["cns"],
    "bench-oncologist": ["oncologist"],
    "bench-all": ["coordinator", "cns", "oncologist", "palliative", "manager"],
}


def fresh_database(url: str | None, instance: Path, name: str = "mdt_bench") -> str:
    """A URL to an empty database: a new SQLite file, or PostgreSQL database ``name`` on the
    server ``url`` points to (dropped first if it exists)."""
    if not url:
        instance.mkdir(parents=True, exist_ok=True)
        path = instance / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar()
        if exists:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def bench_app(url: str, instance: Path) -> Flask:
    os.environ["MDT_DATABASE_URL"] = url
    os.environ["MDT_INSTANCE_PATH"] = str(instance)
    app = create_app({"SECRET_KEY": "b" * 40})
    app.test_client_class = FreshContextClient
    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
    return app


def populate(app: Flask, patients: int) -> dict[str, float]:
    """Pathway, users and ``patients`` patients; returns how long each part took."""
    with app.app_context():
        started = time.perf_counter()
        bpmn, forms = read_pathway_directory(PROJECT_ROOT / "bpmn")
        publish_files(
            SYSTEM, DEFAULT_PATHWAY_KEY, "Secondary breast cancer care pathway", bpmn, forms
        )
        for username, roles in BENCH_USERS.items():
            create_user(SYSTEM, username, username.title(), roles, PASSWORD)
        actor = actor_for(find_user("bench-all"))
        numbers = cohort.nhs_numbers(patients + len(cohort.STAGES))
        templates = cohort.build_templates(actor, numbers[: len(cohort.STAGES)])
        built = time.perf_counter()
        cohort.clone(
            templates, numbers[len(cohort.STAGES) : len(cohort.STAGES) + patients - len(templates)]
        )
        cohort.meeting_history()
        # The clones were copied table to table, past the services: derive the report's
        # cases from them as an upgrade would.
        rebuild_cases()
        db.session.commit()
        cloned = time.perf_counter()
        db.session.remove()
        _analyse()
    return {"templates_s": built - started, "clone_s": cloned - built}


def _analyse() -> None:
    """Fresh statistics after bulk loading, as autovacuum or a DBA would have in a real
    deployment (otherwise PostgreSQL plans for empty tables)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
