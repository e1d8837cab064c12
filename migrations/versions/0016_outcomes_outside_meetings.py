"""MDT outcomes decided outside a meeting: declared with their reason and the deciding
clinicians when the task is completed, so reports and exports count them as such

Outcomes completed outside a meeting before this revision have no declaration: reports show
them as outside a meeting with the reason "not recorded".

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 12:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outcome_outside_meeting',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('clinicians', sa.JSON(), nullable=False),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['task_id'], ['human_task.id'],
            name=op.f('fk_outcome_outside_meeting_task_id_human_task'),
        ),
        sa.ForeignKeyConstraint(
            ['patient_id'], ['patient.id'],
            name=op.f('fk_outcome_outside_meeting_patient_id_patient'),
        ),
        sa.ForeignKeyConstraint(
            ['recorded_by_id'], ['user_account.id'],
            name=op.f('fk_outcome_outside_meeting_recorded_by_id_user_account'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_outside_meeting')),
        sa.UniqueConstraint('task_id', name=op.f('uq_outcome_outside_meeting_task_id')),
    )
    with op.batch_alter_table('outcome_outside_meeting') as batch:
        batch.create_index(
            batch.f('ix_outcome_outside_meeting_patient_id'), ['patient_id'], unique=False
        )
        batch.create_index(
            batch.f('ix_outcome_outside_meeting_decided_on'), ['decided_on'], unique=False
        )


def downgrade():
    with op.batch_alter_table('outcome_outside_meeting') as batch:
        batch.drop_index(batch.f('ix_outcome_outside_meeting_decided_on'))
        batch.drop_index(batch.f('ix_outcome_outside_meeting_patient_id'))
    op.drop_table('outcome_outside_meeting')
