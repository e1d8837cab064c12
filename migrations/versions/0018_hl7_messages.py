"""the PAS feed: HL7 v2 messages as received, processed once

Each message from the PAS (or FHIR Patient update) is stored as received with what was done
about it; its control id (MSH-10) is unique so it is processed exactly once. Deaths the PAS
reports wait in death_notification for a coordinator to confirm.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 03:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hl7_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("control_id", sa.String(length=200), nullable=True),
        sa.Column("message_type", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=False),
        sa.Column("ack", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        # The identifiers the message named (for registering someone from it).
        sa.Column("nhs_number", sa.String(length=10), nullable=True),
        sa.Column("mrn", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_hl7_message_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_message")),
        sa.UniqueConstraint("control_id", name=op.f("uq_hl7_message_control_id")),
    )
    op.create_index("ix_hl7_message_outcome", "hl7_message", ["outcome"])
    op.create_index("ix_hl7_message_patient_id", "hl7_message", ["patient_id"])
    op.create_index("ix_hl7_message_nhs_number", "hl7_message", ["nhs_number"])
    op.create_index("ix_hl7_message_mrn", "hl7_message", ["mrn"])
    op.create_table(
        "death_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("date_of_death", sa.Date(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        # pending, confirmed or rejected
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_death_notification_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["hl7_message.id"],
            name=op.f("fk_death_notification_message_id_hl7_message"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_death_notification_decided_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_death_notification")),
    )
    op.create_index("ix_death_notification_status", "death_notification", ["status", "patient_id"])


def downgrade():
    op.drop_index("ix_death_notification_status", table_name="death_notification")
    op.drop_table("death_notification")
    op.drop_index("ix_hl7_message_mrn", table_name="hl7_message")
    op.drop_index("ix_hl7_message_nhs_number", table_name="hl7_message")
    op.drop_index("ix_hl7_message_patient_id", table_name="hl7_message")
    op.drop_index("ix_hl7_message_outcome", table_name="hl7_message")
    op.drop_table("hl7_message")
