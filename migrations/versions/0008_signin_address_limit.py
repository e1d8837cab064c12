"""sign-in failures are counted per address from the audit trail

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 07:30:00

"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_audit_event_action_address', 'audit_event', ['action', 'ip_address', 'at']
    )


def downgrade():
    op.drop_index('ix_audit_event_action_address', table_name='audit_event')
