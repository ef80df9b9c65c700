"""an index of returned payout items by claim

Revision ID: 0007
Revises: 0006

A claim whose payment failed waits, owed, until its payee account is amended; each
day's payout run looks up the returned items of the claims it owes. Returned items
are few: a partial index finds them by claim without reading every item ever paid.
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_payout_item_returned', 'payout_item', ['platform_code', 'claim_id'], unique=False,
                    sqlite_where=sa.text('returned_on IS NOT NULL'),
                    postgresql_where=sa.text('returned_on IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_payout_item_returned', table_name='payout_item')
