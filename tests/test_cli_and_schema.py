"""Commands, demo data and migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from mdt.extensions import db
from mdt.models import PatientModel, UserModel
from mdt.services.users import find_user


def test_migrations_match_the_models(app: Flask) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_create_user_command_prints_a_one_time_password(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "mdt",
            "create-user",
            "j.smith",
            "--name",
            "Jo Smith",
            "--role",
            "cns",
            "--role",
            "palliative",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "One-time password:" in result.output
    assert find_user("j.smith").roles == {"cns", "palliative"}


def test_create_user_refuses_duplicates_clearly(app: Flask, make_user) -> None:
    make_user("cns", username="dup")
    result = app.test_cli_runner().invoke(
        args=["mdt", "create-user", "dup", "--name", "Again", "--role", "cns"]
    )
    assert result.exit_code != 0 and "already an account called dup" in result.output


def test_seed_demo_is_idempotent(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["mdt", "seed-demo"])
    assert first.exit_code == 0, first.output
    assert "coordinator" in first.output and "palliative" in first.output
    second = runner.invoke(args=["mdt", "seed-demo"])
    assert second.exit_code == 0 and "already exist" in second.output
    assert db.session.query(UserModel).count() == 6
    assert db.session.query(PatientModel).count() == 6
