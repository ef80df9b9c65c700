"""The ledger's PostgreSQL connections turn the JIT compiler off: it cost a quarter
of a second per bulk statement and saved nothing on them."""

from __future__ import annotations

from sqlalchemy import text

from claims.ledger.db import engine_for


def test_postgresql_connections_run_without_jit(postgres_server: str) -> None:
    with engine_for(postgres_server).connect() as connection:
        assert connection.execute(text("SHOW jit")).scalar_one() == "off"
