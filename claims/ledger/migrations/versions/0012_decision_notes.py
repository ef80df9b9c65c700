"""decision notes kept once per distinct text

Revision ID: 0012
Revises: 0011

Each decision held its own copy of its JSON note (for the rules: the policy,
deadlines and duplicate it was decided with). A day's 100,000 decisions by the
rules have a handful of distinct notes, so the copies were 16 MB a day, a third
of what an adjudication run wrote to the ledger. The notes now live once each in
``decision_note``, keyed by the SHA-256 of their text, and a decision refers to
its note. The notes already in the ledger are moved there.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _sha256_sql(bind: sa.Connection, column: str) -> str:
    """SQL for the hex SHA-256 of a text column's UTF-8 (on SQLite, a function
    registered on the migration's connection)."""
    if bind.dialect.name == "postgresql":
        return f"encode(sha256(convert_to({column}, 'UTF8')), 'hex')"
    bind.connection.driver_connection.create_function(  # type: ignore[union-attr]
        "claims_sha256", 1, _digest, deterministic=True)
    return f"claims_sha256({column})"


def upgrade() -> None:
    op.create_table(
        'decision_note',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_note')),
        sa.UniqueConstraint('sha256', name=op.f('uq_decision_note_sha256')),
    )
    bind = op.get_bind()
    digest = _sha256_sql(bind, "evaluation")
    op.execute(f"INSERT INTO decision_note (sha256, body) SELECT {digest}, evaluation FROM "
               "(SELECT DISTINCT evaluation FROM decision) d")
    with op.batch_alter_table('decision') as batch:
        batch.add_column(sa.Column('note_id', sa.Integer(), nullable=True))
    op.execute(f"UPDATE decision SET note_id = (SELECT n.id FROM decision_note n WHERE n.sha256 = {digest})")
    with op.batch_alter_table('decision') as batch:
        batch.alter_column('note_id', existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(op.f('fk_decision_note_id_decision_note'), 'decision_note', ['note_id'], ['id'])
        batch.drop_column('evaluation')


def downgrade() -> None:
    with op.batch_alter_table('decision') as batch:
        batch.add_column(sa.Column('evaluation', sa.Text(), nullable=True))
    op.execute("UPDATE decision SET evaluation = (SELECT n.body FROM decision_note n WHERE n.id = decision.note_id)")
    with op.batch_alter_table('decision') as batch:
        batch.alter_column('evaluation', existing_type=sa.Text(), nullable=False)
        batch.drop_constraint(op.f('fk_decision_note_id_decision_note'), type_='foreignkey')
        batch.drop_column('note_id')
    op.drop_table('decision_note')
