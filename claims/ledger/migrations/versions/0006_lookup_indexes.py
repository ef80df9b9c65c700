"""indexes for adjudication's set-based lookups

Revision ID: 0006
Revises: 0005

Adjudication finds a day's claims, the other claims of the same orders
(duplicates) and the claims near their confirmation deadline with joins instead
of per-claim lookups; these indexes keep those joins bounded by the day's claims
rather than the whole history.
"""

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_claim_version_order', 'claim_version', ['platform_code', 'order_id', 'claim_id'], unique=False)
    op.create_index('ix_decision_confirm_by', 'decision', ['confirm_by'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_decision_confirm_by', table_name='decision')
    op.drop_index('ix_claim_version_order', table_name='claim_version')
