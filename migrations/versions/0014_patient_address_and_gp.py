"""the patient's address, their GP practice's ODS code and address, and whether they want
copies of letters about them (the GP letter is a real letter)

All new columns are optional: patients registered before keep working, and their letters say
what is not known.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 10:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patient') as batch:
        batch.add_column(sa.Column('address', sa.Text(), nullable=True))
        batch.add_column(sa.Column('postcode', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('gp_practice_code', sa.String(length=6), nullable=True))
        batch.add_column(sa.Column('gp_practice_address', sa.Text(), nullable=True))
        batch.add_column(sa.Column('wants_letter_copies', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('patient') as batch:
        batch.drop_column('wants_letter_copies')
        batch.drop_column('gp_practice_address')
        batch.drop_column('gp_practice_code')
        batch.drop_column('postcode')
        batch.drop_column('address')
