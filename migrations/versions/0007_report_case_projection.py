"""the standards report reads a projection of its cases

One row per case of each measure, derived from the task and instance tables (see
mdt/services/report_cases.py). The table starts empty: the first report after this
upgrade derives every case, as it will after any change to the measure definitions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 06:40:00

"""
import sqlalchemy as sa
from alembic import op



revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_case',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kpi', sa.String(length=40), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('cohort', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('recorded', sa.Boolean(), nullable=False),
        sa.Column('start_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('month', sa.String(length=7), nullable=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('close_reason', sa.String(length=32), nullable=True),
        sa.Column('start_day', sa.Float(), nullable=True),
        sa.Column('done_day', sa.Float(), nullable=True),
        sa.Column('due_day', sa.Float(), nullable=True),
        sa.Column('closed_day', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['pathway_instance.id']),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id']),
        sa.ForeignKeyConstraint(['task_id'], ['human_task.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_report_case_period',
        'report_case',
        ['start_at', 'kpi', 'cohort', 'month', 'status', 'recorded', 'start_day', 'done_day',
         'closed_day', 'due_day'],
    )
    op.create_index('ix_report_case_kpi', 'report_case', ['kpi', 'start_at'])
    op.create_index('ix_report_case_instance_id', 'report_case', ['instance_id'])
    op.create_table(
        'report_projection',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade():
    op.drop_table('report_projection')
    op.drop_index('ix_report_case_instance_id', table_name='report_case')
    op.drop_index('ix_report_case_kpi', table_name='report_case')
    op.drop_index('ix_report_case_period', table_name='report_case')
    op.drop_table('report_case')
