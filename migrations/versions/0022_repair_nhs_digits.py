"""repair NHS numbers stored with non-ASCII digits

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 06:10:00

"""

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
