"""Commands, demo data and migrations."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from mdt.extensions import db
from mdt.models import PatientModel, UserModel
from mdt.services.demo import DEMO_USERS
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
    assert db.session.query(UserModel).count() == len(DEMO_USERS)
    assert db.session.query(PatientModel).count() == 6
    # The PAS told us about one more woman, not registered: staff can register her from it.
    from mdt.models import Hl7MessageModel

    sent = db.session.query(Hl7MessageModel).one()
    assert (sent.mrn, sent.outcome, sent.ack_code) == ("DEMO09999", "not_on_pathway", "AA")


def test_the_demo_has_a_history(app: Flask, clock) -> None:
    """Demo patients were registered days and weeks ago and lived through them: meetings
    held, outcomes confirmed there, timers fired; their scorecards show it."""
    from sqlalchemy import select

    from mdt.models import (
        EpisodeModel,
        HumanTaskModel,
        ListingModel,
        ListingStatus,
        MeetingModel,
        MeetingStatus,
    )
    from mdt.services.patient_standards import patient_cases

    result = app.test_cli_runner().invoke(args=["mdt", "seed-demo"])
    assert result.exit_code == 0, result.output
    held = db.session.scalars(
        select(MeetingModel).where(MeetingModel.status == MeetingStatus.CLOSED)
    ).all()
    assert held and all(m.starts_at < clock_now() for m in held)
    confirmed = db.session.scalars(
        select(ListingModel).where(ListingModel.status == ListingStatus.CONFIRMED)
    ).all()
    assert confirmed and all(c.confirmed_at >= c.meeting.starts_at for c in confirmed)
    escalations = db.session.scalars(
        select(HumanTaskModel).where(HumanTaskModel.name.like("Escalation%"))
    ).all()
    assert escalations  # fired by the scheduler as the weeks went by
    started = sorted(e.started_on for e in db.session.scalars(select(EpisodeModel)) if e.started_on)
    assert (started[-1] - started[0]).days >= 50  # diagnosed from about 10 weeks ago
    statuses = {
        case.view.status.value
        for patient in db.session.query(PatientModel)
        for case in patient_cases(patient.id)
    }
    assert {"met", "overdue", "pending", "not_applicable"} <= statuses


def clock_now() -> Any:
    """The app's clock, for the assertions above."""
    from mdt import clock

    return clock.now()


def test_welcome_prints_the_url_and_each_new_password_once(app: Flask, clock) -> None:
    """`make run` seeds quietly, then `flask mdt welcome` prints the address and the new
    passwords last; a second run says how to get a password instead of showing it."""
    import socket

    runner = app.test_cli_runner()
    seeded = runner.invoke(args=["mdt", "seed-demo", "--for-welcome"])
    assert seeded.exit_code == 0, seeded.output
    assert "Passwords" not in seeded.output  # not buried in the set-up output
    with socket.socket() as probe:  # a port nobody uses
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    first = runner.invoke(args=["mdt", "welcome", "--port", str(port)])
    assert first.exit_code == 0, first.output
    assert f"http://127.0.0.1:{port}" in first.output
    lines = {
        line.split()[0]: line.split() for line in first.output.splitlines() if line[:4] == "    "
    }
    assert set(lines) >= {"coordinator", "cns", "oncologist", "palliative", "manager", "admin"}
    password = lines["cns"][1]
    from mdt.services.users import sign_in

    assert sign_in("cns", password, "127.0.0.1").user.username == "cns"
    again = runner.invoke(args=["mdt", "welcome", "--port", str(port)])
    assert password not in again.output and "reset-password" in again.output


def test_welcome_says_what_to_do_when_the_port_is_taken(app: Flask) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = app.test_cli_runner().invoke(args=["mdt", "welcome", "--port", str(port)])
    assert result.exit_code != 0 and "make run PORT=5055" in result.output


def test_the_favicon_is_served(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.data[:4] == b"\x00\x00\x01\x00"
