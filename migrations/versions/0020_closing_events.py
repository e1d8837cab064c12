"""closing events confirmed and correctable

Each death, discharge or transfer that closes a pathway keeps what the pathway was just
before (the engine state, the instance's status and close fields, the open tasks, timers and
MDT listings it changed), so a manager can mark it entered in error and put it all back.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 03:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'closing_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('event_name', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('declared', sa.Boolean(), nullable=False),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.Text(), nullable=False),
        sa.Column('state_format', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('close_reason', sa.String(length=32), nullable=True),
        sa.Column('date_of_death', sa.Date(), nullable=True),
        sa.Column('tasks', sa.JSON(), nullable=False),
        sa.Column('timers', sa.JSON(), nullable=False),
        sa.Column('listing_ids', sa.JSON(), nullable=False),
        sa.Column('created_task_ids', sa.JSON(), nullable=False),
        sa.Column('created_episode_ids', sa.JSON(), nullable=False),
        sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('corrected_by_id', sa.Integer(), nullable=True),
        sa.Column('correction_reason', sa.Text(), nullable=True),
        sa.Column('correction', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ['patient_id'], ['patient.id'], name=op.f('fk_closing_event_patient_id_patient')
        ),
        sa.ForeignKeyConstraint(
            ['instance_id'], ['pathway_instance.id'],
            name=op.f('fk_closing_event_instance_id_pathway_instance'),
        ),
        sa.ForeignKeyConstraint(
            ['recorded_by_id'], ['user_account.id'],
            name=op.f('fk_closing_event_recorded_by_id_user_account'),
        ),
        sa.ForeignKeyConstraint(
            ['corrected_by_id'], ['user_account.id'],
            name=op.f('fk_closing_event_corrected_by_id_user_account'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_closing_event')),
    )
    with op.batch_alter_table('closing_event') as batch:
        batch.create_index(batch.f('ix_closing_event_patient_id'), ['patient_id'], unique=False)
        batch.create_index(batch.f('ix_closing_event_instance_id'), ['instance_id'], unique=False)


def downgrade():
    with op.batch_alter_table('closing_event') as batch:
        batch.drop_index(batch.f('ix_closing_event_instance_id'))
        batch.drop_index(batch.f('ix_closing_event_patient_id'))
    op.drop_table('closing_event')
