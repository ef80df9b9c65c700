"""The migrations build the schema the models describe: no table, column, index or
constraint of one is missing from the other, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from claims.ledger.db import engine_for
from claims.ledger.models import Base


def test_the_migrated_schema_is_the_models_schema(ledger_url: str) -> None:
    with engine_for(ledger_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
