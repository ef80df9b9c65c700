"""the confirmations awaited, open and closed

Revision ID: 0011
Revises: 0010

The deadlines report looked for claims awaiting the HRSS office's confirmation
among every decision by the rules ever made with that outcome: a review settled
by a determination a year ago stayed in the partial index it read, so the
report's work grew with the history. Each awaiting decision is now a row from
the run that made it to the run that closed it (the claim's next decision by the
rules, or a determination applied to it); the report of day D reads the rows
open on D. The rows are made here from the decisions already in the ledger.
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

AWAITING = "basis = 'rules' AND outcome IN ('standard_review', 'pending')"
OPEN = "closed_on IS NULL"
CLOSED = "closed_on IS NOT NULL"


def upgrade() -> None:
    table = op.create_table(
        'awaiting_confirmation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_code', sa.String(length=32), nullable=False),
        sa.Column('claim_id', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('filed_on', sa.Date(), nullable=False),
        sa.Column('confirm_by', sa.Date(), nullable=False),
        sa.Column('calendar_estimated', sa.Boolean(), nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=False),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_awaiting_confirmation')),
    )
    op.create_index('ix_awaiting_confirmation_open', 'awaiting_confirmation', ['confirm_by'], unique=False,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_index('ix_awaiting_confirmation_closed', 'awaiting_confirmation', ['closed_on'], unique=False,
                    sqlite_where=sa.text(CLOSED), postgresql_where=sa.text(CLOSED))
    op.create_index('ix_awaiting_confirmation_claim', 'awaiting_confirmation', ['platform_code', 'claim_id'],
                    unique=False)
    op.bulk_insert(table, list(_from_decisions(op.get_bind())))
    op.drop_index('ix_decision_awaiting_confirmation', table_name='decision')


def _from_decisions(bind: sa.Connection):  # type: ignore[no-untyped-def]
    """The rows the runs would have made, claim by claim in the order the runs
    decided: a run decides by the rules before it applies determinations."""
    decisions = bind.execute(sa.text(
        "SELECT platform_code, claim_id, business_day, basis, outcome, filed_on, confirm_by, calendar_estimated "
        "FROM decision ORDER BY platform_code, claim_id, business_day, "
        "CASE basis WHEN 'rules' THEN 0 ELSE 1 END, id"))
    claim = None
    row: dict | None = None
    for platform_code, claim_id, day, basis, outcome, filed_on, confirm_by, estimated in decisions:
        day = _date(day)
        if (platform_code, claim_id) != claim:
            if row is not None:
                yield row
            claim, row = (platform_code, claim_id), None
        if row is not None and row["closed_on"] is None and (basis != "rules" or row["opened_on"] < day):
            row["closed_on"] = day  # the claim's next decision by the rules, or a determination
            yield row
            row = None
        if basis == "rules" and outcome in ("standard_review", "pending") and confirm_by is not None:
            row = {"platform_code": platform_code, "claim_id": claim_id, "outcome": outcome,
                   "filed_on": _date(filed_on), "confirm_by": _date(confirm_by),
                   "calendar_estimated": bool(estimated), "opened_on": day, "closed_on": None}
    if row is not None:
        yield row


def _date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def downgrade() -> None:
    op.create_index('ix_decision_awaiting_confirmation', 'decision', ['confirm_by'], unique=False,
                    sqlite_where=sa.text(AWAITING), postgresql_where=sa.text(AWAITING))
    op.drop_index('ix_awaiting_confirmation_claim', table_name='awaiting_confirmation')
    op.drop_index('ix_awaiting_confirmation_closed', table_name='awaiting_confirmation')
    op.drop_index('ix_awaiting_confirmation_open', table_name='awaiting_confirmation')
    op.drop_table('awaiting_confirmation')
