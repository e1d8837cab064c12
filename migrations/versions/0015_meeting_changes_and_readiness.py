"""meetings can be cancelled (their list moves), attendees added by mistake are removed
(kept, not deleted), and team members mark a listed patient ready to present

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 23:00:00

"""
import sqlalchemy as sa
from alembic import op



revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('meeting') as batch:
        batch.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('cancelled_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('meeting_attendance') as batch:
        batch.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'meeting_listing_ready',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('listing_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('discipline', sa.String(length=80), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['listing_id'], ['meeting_listing.id'],
            name=op.f('fk_meeting_listing_ready_listing_id_meeting_listing'),
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['user_account.id'],
            name=op.f('fk_meeting_listing_ready_user_id_user_account'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_listing_ready')),
        sa.UniqueConstraint(
            'listing_id', 'user_id', name=op.f('uq_meeting_listing_ready_listing_id')
        ),
    )
    with op.batch_alter_table('meeting_listing_ready') as batch:
        batch.create_index(
            batch.f('ix_meeting_listing_ready_listing_id'), ['listing_id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('meeting_listing_ready') as batch:
        batch.drop_index(batch.f('ix_meeting_listing_ready_listing_id'))
    op.drop_table('meeting_listing_ready')
    with op.batch_alter_table('meeting_attendance') as batch:
        batch.drop_column('removed_at')
    with op.batch_alter_table('meeting') as batch:
        batch.drop_column('cancelled_reason')
        batch.drop_column('cancelled_at')
