"""reports' running totals; declarations keep their amendments

Revision ID: 0015
Revises: 0014

- ``report_day_close``, ``report_payout_day``, ``report_answered_day``: a business
  day's payout figures (records and ledger side) closed by the reports stage, so
  a day's reports read per-day totals instead of every decision, item and
  posting ever made. Nothing is backfilled: the first report after the upgrade
  closes every earlier day once.
- ``report_trend_month``: a past month's row of the monthly trends, as the month
  stood at its end, computed once.
- ``declaration``: an amended declaration is a new version (CONTRACT.md's feed
  allows amendments): the one-row-per-key constraint becomes an index, and a
  file's line is loaded once.
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('declaration', schema=None) as batch_op:
        batch_op.drop_constraint('uq_declaration_key', type_='unique')
        batch_op.create_unique_constraint('uq_declaration_file_line', ['file_id', 'line'])
        batch_op.create_index('ix_declaration_key', ['platform_code', 'province_code', 'industry', 'month'],
                              unique=False)
    op.create_table(
        'report_day_close',
        sa.Column('business_day', sa.Date(), nullable=False),
        sa.Column('fingerprint', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('business_day', name='pk_report_day_close'),
    )
    op.create_table(
        'report_payout_day',
        sa.Column('business_day', sa.Date(), nullable=False),
        sa.Column('province_code', sa.String(length=6), nullable=False),
        sa.Column('platform_code', sa.String(length=32), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in (
            'approved_fen', 'items', 'items_fen', 'repaid_items', 'settled_items', 'settled_fen', 'returned_items',
            'returned_fen', 'ledger_payable_fen', 'ledger_in_transit_fen', 'ledger_bank_fen')),
        sa.PrimaryKeyConstraint('business_day', 'province_code', 'platform_code', name='pk_report_payout_day'),
    )
    op.create_table(
        'report_answered_day',
        sa.Column('business_day', sa.Date(), nullable=False),
        sa.Column('item_day', sa.Date(), nullable=False),
        sa.Column('province_code', sa.String(length=6), nullable=False),
        sa.Column('answered_fen', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('business_day', 'item_day', 'province_code', name='pk_report_answered_day'),
    )

    op.create_table(
        'report_trend_month',
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('month', name='pk_report_trend_month'),
    )


def downgrade() -> None:
    op.drop_table('report_trend_month')
    op.drop_table('report_answered_day')
    op.drop_table('report_payout_day')
    op.drop_table('report_day_close')
    with op.batch_alter_table('declaration', schema=None) as batch_op:
        batch_op.drop_index('ix_declaration_key')
        batch_op.drop_constraint('uq_declaration_file_line', type_='unique')
        batch_op.create_unique_constraint('uq_declaration_key', ['platform_code', 'province_code', 'industry', 'month'])
