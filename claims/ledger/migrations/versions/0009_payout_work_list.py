"""the payout run's work list

Revision ID: 0009
Revises: 0008

The payout run used to find what is owed by reading every payable decision and
payout item ever made: 0.5 s a day per 100,000 claims of history. Adjudication
and bank returns now list the claims that may be owed, and the payout run that
settles a claim removes it. Every claim with a payable decision is listed once
here; the first payout run removes those already settled.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'payout_work',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_code', sa.String(length=32), nullable=False),
        sa.Column('claim_id', sa.String(length=64), nullable=False),
        sa.Column('business_day', sa.Date(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_work')),
    )
    op.execute(
        "INSERT INTO payout_work (platform_code, claim_id, business_day, reason) "
        "SELECT platform_code, claim_id, MIN(business_day), 'migrated' FROM decision "
        "WHERE payable_fen IS NOT NULL GROUP BY platform_code, claim_id"
    )


def downgrade() -> None:
    op.drop_table('payout_work')
