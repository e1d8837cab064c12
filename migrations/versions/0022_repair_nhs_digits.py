"""repair NHS numbers stored with non-ASCII digits

Registration, search, the API and the PAS feed now read an NHS number as ASCII digits (NFKC,
any script's decimal digits, spaces and hyphens dropped: ``patient_identity.nhs_digits``).
Numbers stored before were kept as typed, so a fullwidth or Arabic-Indic "9434765919" was a
different patient from the ASCII one, and search could not find it. This revision rewrites
them as ASCII digits in ``patient.nhs_number``, ``patient_identifier`` (NHS numbers) and
``hl7_message.nhs_number``.

A repaired patient's number changes only in how it is written; each one is audited
(``patient.nhs_number_repaired``, with the number as it was stored).

When the repaired number is already another patient's, the two records may be one person
registered twice, or a typing mistake: nothing here can tell which, so nothing is merged,
deleted or changed. The record keeps its number as stored, an audit row says so
(``patient.nhs_number_clash``, naming the other record), and every active MDT coordinator is
told in their notifications ("NHS number on two records"), where they decide, as with any
duplicate, whether the PAS should merge them. Of several non-ASCII records with one number
and no ASCII one, the oldest is repaired and the others are reported against it. A patient's
old NHS identifier whose ASCII form is someone else's is left as stored (it must never find
the wrong person); a stored value that is not ten digits in any script is left as it is.

Downgrading leaves the numbers repaired: they are the same numbers, and the audit rows keep
how each was stored.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 06:10:00

"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

from mdt import clock

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

ACTOR = "migration 0022"
TIMESTAMP = sa.DateTime(timezone=True)

patient = sa.table(
    "patient",
    sa.column("id", sa.Integer),
    sa.column("nhs_number", sa.String),
    sa.column("given_name", sa.String),
    sa.column("family_name", sa.String),
)
identifier = sa.table(
    "patient_identifier",
    sa.column("id", sa.Integer),
    sa.column("patient_id", sa.Integer),
    sa.column("system", sa.String),
    sa.column("value", sa.String),
)
hl7_message = sa.table(
    "hl7_message", sa.column("id", sa.Integer), sa.column("nhs_number", sa.String)
)
audit = sa.table(
    "audit_event",
    sa.column("at", TIMESTAMP),
    sa.column("actor_name", sa.String),
    sa.column("actor_roles", sa.String),
    sa.column("action", sa.String),
    sa.column("patient_id", sa.Integer),
    sa.column("object_type", sa.String),
    sa.column("object_id", sa.String),
    sa.column("detail", sa.JSON),
)
notification = sa.table(
    "notification",
    sa.column("user_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("patient_id", sa.Integer),
    sa.column("message", sa.String),
    sa.column("created_at", TIMESTAMP),
)
user_account = sa.table(
    "user_account", sa.column("id", sa.Integer), sa.column("active", sa.Boolean)
)
user_role = sa.table("user_role", sa.column("user_id", sa.Integer), sa.column("role", sa.String))


_SEPARATORS = re.compile(r"[\s\-]+")


def _digits(raw):
    """A copy of mdt.services.patient_identity.nhs_digits as it is at this revision (a
    migration must not change when the application's code does)."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or ""))
    return "".join(str(int(ch)) if ch.isdecimal() else ch for ch in text)


def _repairable(stored):
    """The ASCII number for a stored one that needs repair, else None (already ASCII, or
    not ten digits in any script: left as stored)."""
    repaired = _digits(stored)
    ten_digits = len(repaired) == 10 and repaired.isascii() and repaired.isdigit()
    return repaired if ten_digits and repaired != stored else None


def upgrade():
    connection = op.get_bind()
    now = clock.now()
    if connection.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC on SQLite
    _repair_patients(connection, now)
    _repair_identifiers(connection)
    messages = connection.execute(sa.select(hl7_message.c.id, hl7_message.c.nhs_number)).all()
    for row_id, stored in messages:
        repaired = _repairable(stored)
        if repaired:
            connection.execute(
                hl7_message.update().where(hl7_message.c.id == row_id).values(nhs_number=repaired)
            )


def _repair_patients(connection, now):
    rows = connection.execute(
        sa.select(
            patient.c.id, patient.c.nhs_number, patient.c.given_name, patient.c.family_name
        ).order_by(patient.c.id)
    ).all()
    owner = {row.nhs_number: row for row in rows}  # who holds each number as stored
    for row in rows:
        repaired = _repairable(row.nhs_number)
        if repaired is None:
            continue
        other = owner.get(repaired)
        if other is not None and other.id != row.id:
            _report_clash(connection, now, row, repaired, other)
            continue
        connection.execute(
            patient.update().where(patient.c.id == row.id).values(nhs_number=repaired)
        )
        owner[repaired] = row
        _audit(connection, now, "patient.nhs_number_repaired", row.id,
               {"stored": row.nhs_number, "repaired": repaired})  # fmt: skip


def _report_clash(connection, now, row, repaired, other):
    _audit(connection, now, "patient.nhs_number_clash", row.id,
           {"stored": row.nhs_number, "as_digits": repaired, "other_patient_id": other.id})  # fmt: skip
    spaced = f"{repaired[:3]} {repaired[3:6]} {repaired[6:]}"
    message = (
        f"NHS number {spaced} is stored on this record in other digits and is also the number "
        f"of {other.family_name.upper()}, {other.given_name} (record {other.id}). Nothing was "
        "merged or changed: check whether they are one person and ask the PAS to merge them, "
        "or correct the number."
    )
    coordinators = connection.execute(
        sa.select(user_account.c.id)
        .join(user_role, user_role.c.user_id == user_account.c.id)
        .where(user_role.c.role == "coordinator", user_account.c.active.is_(True))
    ).scalars()
    for user_id in coordinators:
        connection.execute(
            notification.insert().values(
                user_id=user_id, kind="nhs_clash", patient_id=row.id,
                message=message[:400], created_at=now,
            )
        )  # fmt: skip


def _audit(connection, now, action, patient_id, detail):
    connection.execute(
        audit.insert().values(
            at=now, actor_name=ACTOR, actor_roles="", action=action, patient_id=patient_id,
            object_type="patient", object_id=str(patient_id), detail=detail,
        )
    )  # fmt: skip


def _repair_identifiers(connection):
    """Patients' NHS identifiers (the numbers they have had), repaired by the same rule: one
    whose ASCII form is another patient's number or identifier is left as stored, so that it
    never finds the wrong person, and one the patient already has in ASCII is left too (the
    pair is unique per patient)."""
    rows = connection.execute(
        sa.select(identifier.c.id, identifier.c.patient_id, identifier.c.value).where(
            identifier.c.system == "nhs"
        )
    ).all()
    holders = {}
    for patient_id, number in connection.execute(sa.select(patient.c.id, patient.c.nhs_number)):
        holders.setdefault(number, set()).add(patient_id)
    for row in rows:
        holders.setdefault(row.value, set()).add(row.patient_id)
    held = {(row.patient_id, row.value) for row in rows}
    for row in rows:
        repaired = _repairable(row.value)
        if repaired is None or (row.patient_id, repaired) in held:
            continue
        if holders.get(repaired, set()) - {row.patient_id}:
            continue
        connection.execute(
            identifier.update().where(identifier.c.id == row.id).values(value=repaired)
        )
        held.add((row.patient_id, repaired))
        holders.setdefault(repaired, set()).add(row.patient_id)


def downgrade():
    pass  # the numbers stay repaired: see the docstring
