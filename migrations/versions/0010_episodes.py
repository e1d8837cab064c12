"""episodes of care: each task belongs to one; patients' date of death; why a listing was withdrawn

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 12:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'episode',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('started_on', sa.Date(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('message', sa.String(length=100), nullable=True),
        sa.Column('data', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['pathway_instance.id']),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id']),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_episode_instance_id', 'episode', ['instance_id'])
    op.create_index('ix_episode_patient_id', 'episode', ['patient_id'])
    with op.batch_alter_table('human_task') as batch:
        batch.add_column(sa.Column('episode_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('context', sa.JSON(), nullable=True))
        batch.create_foreign_key('fk_human_task_episode', 'episode', ['episode_id'], ['id'])
        batch.create_index('ix_human_task_episode_id', ['episode_id'])
    with op.batch_alter_table('patient') as batch:
        batch.add_column(sa.Column('date_of_death', sa.Date(), nullable=True))
    with op.batch_alter_table('meeting_listing') as batch:
        batch.add_column(sa.Column('removed_reason', sa.Text(), nullable=True))
    # Every existing pathway gets its first episode, dated by its index date, and its tasks
    # belong to it (episodes from earlier progressions were not recorded as such).
    op.execute(
        "INSERT INTO episode (instance_id, patient_id, kind, label, started_on, recorded_at) "
        "SELECT id, patient_id, 'diagnosis', 'New secondary diagnosis', index_date, started_at "
        "FROM pathway_instance"
    )
    op.execute(
        "UPDATE human_task SET episode_id = "
        "(SELECT MIN(e.id) FROM episode e WHERE e.instance_id = human_task.instance_id)"
    )


def downgrade():
    with op.batch_alter_table('meeting_listing') as batch:
        batch.drop_column('removed_reason')
    with op.batch_alter_table('patient') as batch:
        batch.drop_column('date_of_death')
    with op.batch_alter_table('human_task') as batch:
        batch.drop_index('ix_human_task_episode_id')
        batch.drop_constraint('fk_human_task_episode', type_='foreignkey')
        batch.drop_column('context')
        batch.drop_column('episode_id')
    op.drop_index('ix_episode_patient_id', table_name='episode')
    op.drop_index('ix_episode_instance_id', table_name='episode')
    op.drop_table('episode')
