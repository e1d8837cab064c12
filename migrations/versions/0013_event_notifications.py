"""notifications of events, not only tasks: a pathway paused, a patient taken off a list

notification.task_id becomes optional; an event's notification names the patient, what to
open (subject, subject_id) and its words (message).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 20:30:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification') as batch:
        batch.alter_column('task_id', existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column('patient_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('subject', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('message', sa.String(length=400), nullable=True))
        batch.create_foreign_key(
            op.f('fk_notification_patient_id_patient'), 'patient', ['patient_id'], ['id']
        )


def downgrade():
    op.execute("DELETE FROM notification WHERE task_id IS NULL")
    with op.batch_alter_table('notification') as batch:
        batch.drop_constraint(op.f('fk_notification_patient_id_patient'), type_='foreignkey')
        batch.drop_column('message')
        batch.drop_column('subject_id')
        batch.drop_column('subject')
        batch.drop_column('patient_id')
        batch.alter_column('task_id', existing_type=sa.Integer(), nullable=False)
