"""worklist index covers assignment too

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 03:50:00

"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_worklist')
        batch_op.create_index('ix_human_task_worklist',
                              ['status', 'role', 'due_at', 'assigned_to_id'], unique=False)


def downgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_worklist')
        batch_op.create_index('ix_human_task_worklist', ['status', 'role', 'due_at'],
                              unique=False)
