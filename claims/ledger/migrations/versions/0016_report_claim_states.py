"""the province report's claim states and benefits by day

Revision ID: 0016
Revises: 0015

- ``report_claim_state``: each claim's states over business days (filed, insuring
  province, claimant, outcome, first payment, deadline), derived from the detail
  by the reports stage, so a day's province report aggregates in SQL.
- ``report_claim_money``: released items and returns by day, with the claimant.
- ``report_state_mark``: how far the derivation has read each detail table.
- ``report_cell_cache``: a key day's aggregated cells, while its states do not change.
- The ledger's day and posting indexes widened so that the reports' day queries
  read them alone: (business_day, platform_code), (transaction_id, account, amount_fen).
Nothing is backfilled: the first report after the upgrade derives every claim once.
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

FIRST_PAID = "first_paid_on IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        'report_claim_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_code', sa.String(length=32), nullable=False),
        sa.Column('claim_id', sa.String(length=64), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('filed_on', sa.Date(), nullable=False),
        sa.Column('province_code', sa.String(length=6), nullable=False),
        sa.Column('worker_ref', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('first_paid_on', sa.Date(), nullable=True),
        sa.Column('late_after', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_report_claim_state'),
    )
    op.create_index('ix_report_claim_state_claim', 'report_claim_state', ['platform_code', 'claim_id'])
    op.create_index('ix_report_claim_state_filed', 'report_claim_state',
                    ['filed_on', 'province_code', 'platform_code', 'outcome', 'late_after', 'valid_from',
                     'valid_to', 'worker_ref'])
    op.create_index('ix_report_claim_state_paid', 'report_claim_state',
                    ['first_paid_on', 'province_code', 'platform_code', 'filed_on', 'valid_from', 'valid_to',
                     'worker_ref'],
                    sqlite_where=sa.text(FIRST_PAID), postgresql_where=sa.text(FIRST_PAID))
    op.create_table(
        'report_claim_money',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_code', sa.String(length=32), nullable=False),
        sa.Column('claim_id', sa.String(length=64), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('province_code', sa.String(length=6), nullable=False),
        sa.Column('fen', sa.BigInteger(), nullable=False),
        sa.Column('worker_ref', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_report_claim_money'),
    )
    op.create_index('ix_report_claim_money_claim', 'report_claim_money', ['platform_code', 'claim_id'])
    op.create_index('ix_report_claim_money_day', 'report_claim_money',
                    ['day', 'province_code', 'platform_code', 'worker_ref', 'fen'])
    op.create_table(
        'report_state_mark',
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('last_id', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('source', name='pk_report_state_mark'),
    )
    op.create_table(
        'report_cell_cache',
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('key_day', sa.Date(), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=True),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'key_day', name='pk_report_cell_cache'),
    )
    op.drop_index('ix_ledger_transaction_business_day', table_name='ledger_transaction')
    op.create_index('ix_ledger_transaction_day_platform', 'ledger_transaction', ['business_day', 'platform_code'])
    op.drop_index('ix_ledger_posting_transaction_id', table_name='ledger_posting')
    op.create_index('ix_ledger_posting_transaction_amount', 'ledger_posting',
                    ['transaction_id', 'account', 'amount_fen'])


def downgrade() -> None:
    op.drop_index('ix_ledger_posting_transaction_amount', table_name='ledger_posting')
    op.create_index('ix_ledger_posting_transaction_id', 'ledger_posting', ['transaction_id'])
    op.drop_index('ix_ledger_transaction_day_platform', table_name='ledger_transaction')
    op.create_index('ix_ledger_transaction_business_day', 'ledger_transaction', ['business_day'])
    op.drop_table('report_cell_cache')
    op.drop_table('report_state_mark')
    op.drop_table('report_claim_money')
    op.drop_table('report_claim_state')
