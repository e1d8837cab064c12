"""server-side sessions, token expiry and scope

Sessions are rows of user_session (the cookie holds only a random secret; its SHA-256 is
kept). Tokens gain an expiry, a scope and why they were revoked. Tokens made before this
revision keep working, with their scope "write" (what they could do before), and expire 90
days from the upgrade, so no system loses access on the day of the upgrade.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 03:00:00

"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from mdt import clock

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_user_session_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_user_session_secret_hash")),
    )
    op.create_index("ix_user_session_user_id", "user_session", ["user_id"])
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("revoked_reason", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("scope", sa.String(length=10), nullable=False, server_default="write")
        )
    token = sa.table(
        "api_token",
        sa.column("expires_at", sa.DateTime(timezone=True)),
        sa.column("revoked_at", sa.DateTime(timezone=True)),
        sa.column("revoked_reason", sa.String()),
    )
    expires = clock.now() + timedelta(days=90)
    if op.get_bind().dialect.name == "sqlite":
        expires = expires.replace(tzinfo=None)  # stored as naive UTC on SQLite
    op.execute(token.update().values(expires_at=expires))
    op.execute(
        token.update().where(token.c.revoked_at.is_not(None)).values(revoked_reason="revoked")
    )
    with op.batch_alter_table("api_token") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("scope", existing_type=sa.String(length=10), server_default=None)


def downgrade():
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("scope")
        batch.drop_column("expires_at")
        batch.drop_column("revoked_reason")
    op.drop_index("ix_user_session_user_id", table_name="user_session")
    op.drop_table("user_session")
