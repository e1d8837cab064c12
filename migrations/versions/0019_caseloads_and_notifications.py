"""caseloads, worklist and notification digests

A CNS's caseload is read by key worker: patient.key_worker_id is indexed. Each person may ask
for one daily summary e-mail of their notifications instead of one e-mail per batch:
user_account.digest_hour is the hour (London time) the summary goes out, NULL for e-mails as
things happen (everyone's choice until they change it).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 03:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("patient") as batch:
        batch.create_index("ix_patient_key_worker_id", ["key_worker_id"])
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("digest_hour", sa.SmallInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("digest_hour")
    with op.batch_alter_table("patient") as batch:
        batch.drop_index("ix_patient_key_worker_id")
