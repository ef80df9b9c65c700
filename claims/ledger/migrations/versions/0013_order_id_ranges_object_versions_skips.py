"""order id ranges, object versions, skipped objects

Revision ID: 0013
Revises: 0012

- ``landing_file.order_id_min/max``: each orders file's range of order ids, so an
  order id re-used on another date is found by reading only the loaded files
  whose range overlaps the new file's (issue 12, item 3).
- ``landing_delivery.object_version``: the store's size and ETag/modification
  time of the object when it was read, so a key replaced by other bytes of the
  same size is hashed and read again (issue 12, item 4).
- ``landing_skip``: objects of a marked partition a run did not read (hidden
  names, sub-folders), so quality/ accounts for every object.
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('landing_file') as batch:
        batch.add_column(sa.Column('order_id_min', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('order_id_max', sa.String(length=64), nullable=True))
    with op.batch_alter_table('landing_delivery') as batch:
        batch.add_column(sa.Column('object_version', sa.String(length=160), nullable=True))
    op.create_table(
        'landing_skip',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('business_day', sa.Date(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('platform_code', sa.String(length=32), nullable=False),
        sa.Column('partition_date', sa.Date(), nullable=False),
        sa.Column('file_key', sa.String(length=1024), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('reason_code', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_landing_skip')),
        sa.UniqueConstraint('business_day', 'file_key', name='uq_landing_skip_day_key'),
    )


def downgrade() -> None:
    op.drop_table('landing_skip')
    with op.batch_alter_table('landing_delivery') as batch:
        batch.drop_column('object_version')
    with op.batch_alter_table('landing_file') as batch:
        batch.drop_column('order_id_max')
        batch.drop_column('order_id_min')
