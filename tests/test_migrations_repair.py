"""Migration 0022: NHS numbers stored before registration read them as ASCII digits (fullwidth,
Arabic-Indic) are repaired; one whose ASCII form is another patient's is left as stored,
audited and shown to the MDT coordinators, never merged or deleted.

Runs on a database of its own: a SQLite file, or with MDT_TEST_DATABASE_URL a schema of its
own in that PostgreSQL database (dropped afterwards), migrated to 0021 and filled as a service
running that revision would have been.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from mdt import create_app
from mdt.extensions import db
from mdt.services.patient_identity import nhs_digits

from .conftest import ROOT, TEST_DB_URL
from .helpers import NHS_NUMBERS

SCHEMA = "repair_0022"
A, B, C, D = NHS_NUMBERS[:4]
WHEN = "2026-01-05 09:00:00"


def _fullwidth(number: str) -> str:
    return "".join(chr(ord(digit) + 0xFEE0) for digit in number)


def _arabic_indic(number: str) -> str:
    return "".join(chr(0x0660 + int(digit)) for digit in number)


@pytest.fixture
def old_database(tmp_path: Path) -> Iterator[str]:
    if not TEST_DB_URL:
        yield f"sqlite:///{tmp_path / 'repair.sqlite3'}"
        return
    base = TEST_DB_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{SCHEMA}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
        admin.dispose()


def _fill(connection: Any) -> None:
    """Patients as 0021 stored them: 1 fullwidth; 2 ASCII and 3 the same number in
    Arabic-Indic digits; 4 and 5 one number, both non-ASCII; 6 ASCII. Coordinators (one
    no longer active) and a nurse; identifiers and PAS messages with the numbers."""
    users = [(1, "coord", True), (2, "gone", False), (3, "nurse", True)]
    for user_id, name, active in users:
        connection.execute(
            text(
                "INSERT INTO user_account (id, username, display_name, password_hash, active, "
                "created_at, password_changed_at, failed_sign_ins) "
                "VALUES (:id, :name, :name, 'x', :active, :at, :at, 0)"
            ),
            {"id": user_id, "name": name, "active": active, "at": WHEN},
        )
    for user_id, role in [(1, "coordinator"), (2, "coordinator"), (3, "cns")]:
        connection.execute(
            text("INSERT INTO user_role (user_id, role) VALUES (:id, :role)"),
            {"id": user_id, "role": role},
        )
    patients = [
        (1, _fullwidth(A), "Ada", "Wide"),
        (2, B, "Bea", "Plain"),
        (3, _arabic_indic(B), "Bea", "Twice"),
        (4, _fullwidth(C), "Cy", "First"),
        (5, _arabic_indic(C), "Cy", "Second"),
        (6, D, "Di", "Ascii"),
    ]
    for patient_id, number, given, family in patients:
        connection.execute(
            text(
                "INSERT INTO patient (id, nhs_number, given_name, family_name, date_of_birth, "
                "created_at) VALUES (:id, :number, :given, :family, '1960-01-01', :at)"
            ),
            {"id": patient_id, "number": number, "given": given, "family": family, "at": WHEN},
        )
    for patient_id, number in [(1, _fullwidth(A)), (3, _arabic_indic(B)), (6, D)]:
        connection.execute(
            text(
                "INSERT INTO patient_identifier (patient_id, system, value, source, "
                "recorded_at) VALUES (:id, 'nhs', :number, 'registration', :at)"
            ),
            {"id": patient_id, "number": number, "at": WHEN},
        )
    sent: list[tuple[str, str | None]] = [("m1", _fullwidth(A)), ("m2", None)]
    for control, named in sent:
        connection.execute(
            text(
                "INSERT INTO hl7_message (control_id, message_type, source, raw, received_at, "
                "outcome, ack_code, nhs_number) "
                "VALUES (:control, 'ADT^A31', 'hl7', 'MSH|', :at, 'applied', 'AA', :number)"
            ),
            {"control": control, "number": named, "at": WHEN},
        )
    if connection.dialect.name == "postgresql":  # ids given above: move the sequences on
        for table in ("user_account", "patient"):
            connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"))


def _rows(connection: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(text(sql))]


def test_migration_0022_repairs_nhs_digits_and_reports_clashes(old_database: str) -> None:
    fresh = create_app(
        {"TESTING": True, "SECRET_KEY": "m" * 40, "SQLALCHEMY_DATABASE_URI": old_database}
    )
    migrations = str(ROOT / "migrations")
    engine = create_engine(old_database)
    with fresh.app_context():
        upgrade(directory=migrations, revision="0021")
        with engine.begin() as connection:
            _fill(connection)
        upgrade(directory=migrations, revision="0022")
        db.session.remove()
        db.engine.dispose()
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":  # the schema of its own, not the suite's
            assert connection.execute(text("SELECT current_schema()")).scalar() == SCHEMA
        numbers = dict(_rows(connection, "SELECT id, nhs_number FROM patient"))
        identifiers = _rows(
            connection, "SELECT patient_id, value FROM patient_identifier ORDER BY patient_id"
        )
        messages = _rows(connection, "SELECT control_id, nhs_number FROM hl7_message")
        audits = _rows(
            connection,
            "SELECT action, patient_id, actor_name FROM audit_event ORDER BY patient_id",
        )
        details = [
            row[0]
            for row in connection.execute(
                text("SELECT detail FROM audit_event ORDER BY patient_id")
            )
        ]
        notes = _rows(
            connection,
            "SELECT user_id, kind, patient_id, message FROM notification ORDER BY patient_id",
        )
    engine.dispose()

    # Repaired as the application reads numbers; clashes left exactly as stored.
    assert nhs_digits(_fullwidth(A)) == A == numbers[1]
    assert numbers == {1: A, 2: B, 3: _arabic_indic(B), 4: C, 5: _arabic_indic(C), 6: D}
    # Identifiers likewise: patient 3's would name patient 2's number, so it is left.
    assert identifiers == [(1, A), (3, _arabic_indic(B)), (6, D)]
    assert sorted(messages, key=str) == sorted([("m1", A), ("m2", None)], key=str)

    # Every change and every clash is audited, with the number as it was stored.
    assert [(action, patient) for action, patient, _ in audits] == [
        ("patient.nhs_number_repaired", 1),
        ("patient.nhs_number_clash", 3),
        ("patient.nhs_number_repaired", 4),
        ("patient.nhs_number_clash", 5),
    ]
    assert {actor for _, _, actor in audits} == {"migration 0022"}
    assert _as_dict(details[0]) == {"stored": _fullwidth(A), "repaired": A}
    assert _as_dict(details[1]) == {
        "stored": _arabic_indic(B),
        "as_digits": B,
        "other_patient_id": 2,
    }
    assert _as_dict(details[3])["other_patient_id"] == 4

    # The active coordinator is told of each clash, naming the other record; nobody else.
    assert [(user, kind, patient) for user, kind, patient, _ in notes] == [
        (1, "nhs_clash", 3),
        (1, "nhs_clash", 5),
    ]
    spaced = f"{B[:3]} {B[3:6]} {B[6:]}"
    assert spaced in notes[0][3] and "PLAIN, Bea" in notes[0][3]
    assert "Nothing was merged" in notes[0][3]
    assert "FIRST, Cy" in notes[1][3]


def _as_dict(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)
