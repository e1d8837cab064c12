"""identity as the hospital knows it: sex, hospital number (MRN), responsible consultant, a
folded search name, the record a merge folded this one into, and every identifier a patient
has had (so an old NHS number or MRN still finds the surviving record after a merge)

All new patient columns are optional: patients registered before keep working. The search name
is filled for existing patients here, folded as the application folds it (accents dropped,
case folded).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 03:00:00

"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("sex", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("mrn", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("consultant_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("search_name", sa.String(length=210), nullable=True))
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_patient_merged_into_id_patient", "patient", ["merged_into_id"], ["id"]
        )
        batch.create_index("ix_patient_mrn", ["mrn"])
        batch.create_index("ix_patient_search_name", ["search_name"])
        batch.create_index("ix_patient_date_of_birth", ["date_of_birth"])
    _fill_search_names()
    op.create_table(
        "patient_identifier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        # 'nhs' or 'mrn'
        sa.Column("system", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        # Where it came from: 'registration', 'hl7', 'merge', 'fhir'...
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_identifier_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_identifier")),
        sa.UniqueConstraint(
            "system", "value", "patient_id", name="uq_patient_identifier_system_value_patient"
        ),
    )
    op.create_index("ix_patient_identifier_lookup", "patient_identifier", ["system", "value"])


# A copy of mdt.services.patient_identity.fold as it is at this revision (a migration must not
# change when the application's code does): accents dropped, case folded, single spaces.
_INVISIBLE = re.compile("[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def _fold(text):
    decomposed = unicodedata.normalize("NFKD", _INVISIBLE.sub("", text or ""))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def _fill_search_names():
    """Existing patients' folded names, so "elise" finds Élise registered before (SQL's
    lower() folds neither accents nor, on SQLite, any letter beyond ASCII)."""
    patient = sa.table(
        "patient",
        sa.column("id", sa.Integer),
        sa.column("given_name", sa.String),
        sa.column("family_name", sa.String),
        sa.column("search_name", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(patient.c.id, patient.c.given_name, patient.c.family_name)
    ).all()
    for patient_id, given, family in rows:
        connection.execute(
            patient.update()
            .where(patient.c.id == patient_id)
            .values(search_name=_fold(f"{given} {family}")[:210])
        )


def downgrade():
    op.drop_index("ix_patient_identifier_lookup", table_name="patient_identifier")
    op.drop_table("patient_identifier")
    with op.batch_alter_table("patient") as batch:
        batch.drop_index("ix_patient_date_of_birth")
        batch.drop_index("ix_patient_search_name")
        batch.drop_index("ix_patient_mrn")
        batch.drop_constraint("fk_patient_merged_into_id_patient", type_="foreignkey")
        batch.drop_column("merged_into_id")
        batch.drop_column("search_name")
        batch.drop_column("consultant_name")
        batch.drop_column("mrn")
        batch.drop_column("sex")
