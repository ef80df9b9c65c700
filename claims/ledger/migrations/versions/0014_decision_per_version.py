"""a claim may be decided once per version a day; payout exceptions

Revision ID: 0014
Revises: 0013

- A late file in a day's partition, picked up by a re-run of that day, may carry
  a new version of a claim the first run already decided. Every loaded version
  that changes a claim is decided by the run that loaded it, so the unique key of
  a decision becomes (claim, business day, basis, version): a re-run still
  decides nothing twice, and the leading columns still serve every lookup by
  claim.
- ``payout_exception``: an owed amount a payout run held out of its files (no
  paying agency, order unknown, above the per-item ceiling, a payee a bank file
  cannot carry), with its reason code; the rest of the day is paid.
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_constraint('uq_decision_claim_day', type_='unique')
        batch_op.create_unique_constraint(
            'uq_decision_claim_day_version', ['platform_code', 'claim_id', 'business_day', 'basis', 'claim_version_id'])
    op.create_table(
        'payout_exception',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('business_day', sa.Date(), nullable=False),
        sa.Column('platform_code', sa.String(length=32), nullable=False),
        sa.Column('claim_id', sa.String(length=64), nullable=False),
        sa.Column('decision_id', sa.Integer(), nullable=False),
        sa.Column('province_code', sa.String(length=6), nullable=True),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('reason_code', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['decision_id'], ['decision.id'], name='fk_payout_exception_decision_id_decision'),
        sa.PrimaryKeyConstraint('id', name='pk_payout_exception'),
        sa.UniqueConstraint('business_day', 'platform_code', 'claim_id', name='uq_payout_exception_day_claim'),
    )
    op.create_index('ix_payout_exception_business_day', 'payout_exception', ['business_day'], unique=False)
    op.create_index('ix_payout_exception_claim', 'payout_exception', ['platform_code', 'claim_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_payout_exception_claim', table_name='payout_exception')
    op.drop_index('ix_payout_exception_business_day', table_name='payout_exception')
    op.drop_table('payout_exception')
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_constraint('uq_decision_claim_day_version', type_='unique')
        batch_op.create_unique_constraint(
            'uq_decision_claim_day', ['platform_code', 'claim_id', 'business_day', 'basis'])
