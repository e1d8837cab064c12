"""end-of-life standards not done before a death are missed, not excused; what the patient
decided after declining

Adds report_case.missed_if_died (in the dashboard's covering index) and report_case.afterwards. The cases are
derived again on the next report (the derivation's fingerprint changed).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 19:30:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

PERIOD_COLUMNS = ['start_on', 'measure', 'cohort', 'month', 'outcome', 'na_reason', 'not_met',
                  'open', 'start_day', 'deadline_day', 'done_day', 'closed_day']


def upgrade():
    with op.batch_alter_table('report_case') as batch:
        batch.add_column(
            sa.Column('missed_if_died', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column('afterwards', sa.String(length=200), nullable=True))
    op.drop_index('ix_report_case_period', table_name='report_case')
    op.create_index('ix_report_case_period', 'report_case', [*PERIOD_COLUMNS, 'missed_if_died'])
    op.execute("DELETE FROM report_projection")


def downgrade():
    op.drop_index('ix_report_case_period', table_name='report_case')
    with op.batch_alter_table('report_case') as batch:
        batch.drop_column('afterwards')
        batch.drop_column('missed_if_died')
    op.create_index('ix_report_case_period', 'report_case', PERIOD_COLUMNS)
