"""the standards' cases per patient and episode, from the pathway's measures

The report_case table is derived: it is dropped and made again in its new shape, empty. The
next report (or `flask mdt rebuild-reports`, which deploys should run) derives every case.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 18:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_report_case_instance_id', table_name='report_case')
    op.drop_index('ix_report_case_kpi', table_name='report_case')
    op.drop_index('ix_report_case_period', table_name='report_case')
    op.drop_table('report_case')
    op.execute("DELETE FROM report_projection")
    op.create_table(
        'report_case',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('measure', sa.String(length=40), nullable=False),
        sa.Column('code', sa.String(length=8), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('episode_id', sa.Integer(), nullable=True),
        sa.Column('cohort', sa.String(length=40), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=True),
        sa.Column('evidence_task_id', sa.Integer(), nullable=True),
        sa.Column('start_on', sa.Date(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('deadline_on', sa.Date(), nullable=True),
        sa.Column('done_on', sa.Date(), nullable=True),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.Column('close_reason', sa.String(length=32), nullable=True),
        sa.Column('outcome', sa.String(length=12), nullable=True),
        sa.Column('outcome_label', sa.String(length=200), nullable=False),
        sa.Column('not_met', sa.String(length=200), nullable=True),
        sa.Column('open', sa.Boolean(), nullable=False),
        sa.Column('open_task_id', sa.Integer(), nullable=True),
        sa.Column('na_reason', sa.String(length=100), nullable=True),
        sa.Column('recorded_late_days', sa.Integer(), nullable=True),
        sa.Column('start_day', sa.Integer(), nullable=False),
        sa.Column('deadline_day', sa.Integer(), nullable=True),
        sa.Column('done_day', sa.Integer(), nullable=True),
        sa.Column('closed_day', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['pathway_instance.id']),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id']),
        sa.ForeignKeyConstraint(['episode_id'], ['episode.id']),
        sa.ForeignKeyConstraint(['task_id'], ['human_task.id']),
        sa.ForeignKeyConstraint(['evidence_task_id'], ['human_task.id']),
        sa.ForeignKeyConstraint(['open_task_id'], ['human_task.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_report_case_period',
        'report_case',
        ['start_on', 'measure', 'cohort', 'month', 'outcome', 'na_reason', 'not_met', 'open',
         'start_day', 'deadline_day', 'done_day', 'closed_day'],
    )
    op.create_index('ix_report_case_instance_id', 'report_case', ['instance_id'])
    op.create_index('ix_report_case_patient_id', 'report_case', ['patient_id'])


def downgrade():
    # Back to the previous shape, empty: it too is derived, and is rebuilt on the next report.
    op.drop_index('ix_report_case_patient_id', table_name='report_case')
    op.drop_index('ix_report_case_instance_id', table_name='report_case')
    op.drop_index('ix_report_case_period', table_name='report_case')
    op.drop_table('report_case')
    op.execute("DELETE FROM report_projection")
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

