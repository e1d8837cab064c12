"""indexes for the standards report

Each KPI reads the tasks of a few BPMN ids over a date range, and joins each case to other
tasks of the same instance by BPMN id (the diagnosis date, the MDT outcome).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 05:20:00

"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_human_task_bpmn', 'human_task', ['bpmn_id', 'created_at'])
    op.create_index('ix_human_task_instance_bpmn', 'human_task', ['instance_id', 'bpmn_id'])


def downgrade():
    op.drop_index('ix_human_task_instance_bpmn', table_name='human_task')
    op.drop_index('ix_human_task_bpmn', table_name='human_task')
