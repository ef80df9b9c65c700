"""The ledger's PostgreSQL connections turn the JIT compiler off (it cost a quarter
of a second per bulk statement and saved nothing on them) and work in UTC (the
driver's datetimes then carry a UTC pandas reads fast)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import text

from claims.ledger.db import engine_for


def test_postgresql_connections_run_without_jit_in_utc(postgres_server: str) -> None:
    with engine_for(postgres_server).connect() as connection:
        assert connection.execute(text("SHOW jit")).scalar_one() == "off"
        assert connection.execute(text("SHOW timezone")).scalar_one() == "UTC"
        instant = connection.execute(text("SELECT TIMESTAMPTZ '2025-09-01 08:00:00+08'")).scalar_one()
    assert instant == datetime(2025, 9, 1, 0, 0, tzinfo=UTC)
    assert str(pd.to_datetime(pd.Series([instant], dtype=object), utc=True).dt.tz) == "UTC"
