"""the worklist's task-name filter reads an index, not the tasks

The names of the tasks waiting in a view (what the worklist's task filter offers) were read
from every ready task of the view's roles: 57 ms at 10,000 patients on PostgreSQL. A covering
index makes it an index-only scan (3 ms). (This revision was reserved for patients on more
than one pathway, which needed no schema change.)

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 06:10:00

"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_human_task_names", "human_task", ["status", "role", "name", "assigned_to_id"]
    )


def downgrade():
    op.drop_index("ix_human_task_names", table_name="human_task")
