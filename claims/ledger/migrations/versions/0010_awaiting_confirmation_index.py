"""index only the decisions that await confirmation, and the pending ones

Revision ID: 0010
Revises: 0009

The deadlines report looks for decisions by the rules that await the HRSS office's
confirmation (standard review, pending) by their confirmation date. The index of
every decision's ``confirm_by`` did not serve it (SQLite scanned the unique key
instead, reading every decision ever made) and cost each day's bulk insert of
decisions a third index. A partial index holds just the awaiting ones: two thirds
of the rows stay out of it, and the report reads only what it reports on.

Each run also looks again at the claims decided ``pending`` (their order had not
arrived): it found them through the index of every decision's business day, reading
all decisions ever made. A partial index of the pending ones (a few) serves it.
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

AWAITING = "basis = 'rules' AND outcome IN ('standard_review', 'pending')"
PENDING = "basis = 'rules' AND outcome = 'pending'"


def upgrade() -> None:
    op.drop_index('ix_decision_confirm_by', table_name='decision')
    op.create_index('ix_decision_awaiting_confirmation', 'decision', ['confirm_by'], unique=False,
                    sqlite_where=sa.text(AWAITING), postgresql_where=sa.text(AWAITING))
    op.create_index('ix_decision_pending', 'decision', ['business_day'], unique=False,
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))


def downgrade() -> None:
    op.drop_index('ix_decision_pending', table_name='decision')
    op.drop_index('ix_decision_awaiting_confirmation', table_name='decision')
    op.create_index('ix_decision_confirm_by', 'decision', ['confirm_by'], unique=False)
