"""the standards report: episode index date, report indexes

Each KPI reads the tasks of a few BPMN ids over a date range from one covering index, and
joins each case to other tasks of the same instance by BPMN id (the MDT outcome). Measures
timed from the confirmed diagnosis read the episode's index date from its instance row,
back-filled here from the completed forms that recorded one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 05:20:00

"""
from datetime import date

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('pathway_instance', sa.Column('index_date', sa.Date(), nullable=True))
    op.create_index(
        'ix_pathway_instance_index_date', 'pathway_instance', ['index_date'], unique=False
    )
    op.create_index(
        'ix_human_task_report',
        'human_task',
        ['bpmn_id', 'created_at', 'instance_id', 'status', 'completed_at', 'due_at', 'patient_id'],
    )
    op.create_index('ix_human_task_instance_bpmn', 'human_task', ['instance_id', 'bpmn_id'])
    _backfill_index_dates()


def _backfill_index_dates():
    task = sa.table(
        'human_task',
        sa.column('id', sa.Integer),
        sa.column('instance_id', sa.Integer),
        sa.column('status', sa.String),
        sa.column('data', sa.JSON),
    )
    instance = sa.table(
        'pathway_instance', sa.column('id', sa.Integer), sa.column('index_date', sa.Date)
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(task.c.instance_id, task.c.data)
        .where(task.c.status == 'completed', sa.cast(task.c.data, sa.Text).like('%index_date%'))
        .order_by(task.c.id)
    )
    found = {}
    for instance_id, data in rows:
        try:
            found.setdefault(instance_id, date.fromisoformat((data or {}).get('index_date')))
        except (TypeError, ValueError):
            continue
    for instance_id, day in found.items():
        connection.execute(
            instance.update().where(instance.c.id == instance_id).values(index_date=day)
        )


def downgrade():
    op.drop_index('ix_human_task_instance_bpmn', table_name='human_task')
    op.drop_index('ix_human_task_report', table_name='human_task')
    op.drop_index('ix_pathway_instance_index_date', table_name='pathway_instance')
    op.drop_column('pathway_instance', 'index_date')
