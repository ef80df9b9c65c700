"""Finding claims' orders in a lake file: the same rows whichever row groups are
read and whatever ids each looks up (those inside its order-id range, or all
where the ids are in no order or the file has no statistics), as a plain filter
of the whole table gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from claims.adjudication.orders import ORDER_COLUMNS, _read_orders

ROWS = 1000
GROUP = 100  # ten row groups


@pytest.fixture(scope="module", params=["in-sequence", "shuffled", "no-statistics"])
def lake_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    start = datetime(2025, 9, 1, tzinfo=UTC)
    table = pa.table({
        "order_id": [f"didi-20250901-{n:08d}" for n in range(ROWS)],
        "worker_ref": [f"{n % 37:032x}" for n in range(ROWS)],
        "province_code": ["110000"] * ROWS,
        "city_code": ["110100"] * ROWS,
        "industry": ["ride_hailing"] * ROWS,
        "accepted_at": pa.array([start + timedelta(minutes=n) for n in range(ROWS)], pa.timestamp("us", tz="UTC")),
        "completed_at": pa.array([start + timedelta(minutes=n + 30) for n in range(ROWS)], pa.timestamp("us", tz="UTC")),
        "status": ["completed"] * ROWS,
        "line": list(range(2, ROWS + 2)),
    })
    if request.param == "shuffled":  # every row group's range spans nearly all ids
        table = table.take(pa.array(random.Random(5).sample(range(ROWS), ROWS)))
    path = tmp_path_factory.mktemp("lake") / "orders.parquet"
    pq.write_table(table, path, row_group_size=GROUP, write_statistics=request.param != "no-statistics")
    handle = pq.ParquetFile(path)
    assert handle.num_row_groups == ROWS // GROUP
    assert (handle.metadata.row_group(0).column(0).statistics is None) == (request.param == "no-statistics")
    return path


def expected(path: Path, ids: list[str]) -> list[dict]:
    table = pq.read_table(path, columns=ORDER_COLUMNS)
    rows = table.filter(pc.is_in(table["order_id"], value_set=pa.array(ids))).to_pylist()
    return sorted(rows, key=lambda row: row["order_id"])


@pytest.mark.parametrize("ids", [
    [f"didi-20250901-{n:08d}" for n in (5, 7, 150)],  # two row groups of ten: read just those
    [f"didi-20250901-{n:08d}" for n in range(0, ROWS, 50)],  # every row group: the whole file scanned
    [f"didi-20250901-{n:08d}" for n in (99, 100)] + ["didi-20250901-99999999", "a-before-everything"],
    ["didi-20250901-00000050x", "zzz"],  # inside a range but absent, and past every range
], ids=["few-groups", "every-group", "group-edges-and-strays", "none-found"])
def test_the_same_orders_whichever_way_the_file_is_read(lake_file: Path, ids: list[str]) -> None:
    found = _read_orders(str(lake_file), sorted(ids))
    assert found.column_names == ORDER_COLUMNS
    assert sorted(found.to_pylist(), key=lambda row: row["order_id"]) == expected(lake_file, ids)


def test_the_incident_business_date_is_taken_in_shanghai(ledger_url: str) -> None:
    """The lake search picks partitions by the incident's date in Asia/Shanghai,
    computed in SQL from the stored UTC instant: 00:10 in Beijing is 16:10 UTC the
    day before."""
    from datetime import date

    from sqlalchemy import Column, DateTime, Integer, MetaData, Table, insert, select, text
    from sqlalchemy.orm import Session

    from claims.adjudication.pipeline import _shanghai_date
    from claims.ledger.db import engine_for

    table = Table("shanghai_date_probe", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", DateTime(timezone=True)))
    instants = {
        datetime(2025, 9, 1, 16, 10, tzinfo=UTC): date(2025, 9, 2),  # 00:10 on the 2nd in Beijing
        datetime(2025, 9, 1, 15, 59, 59, 999999, tzinfo=UTC): date(2025, 9, 1),  # 23:59:59.999999
        datetime(2025, 12, 31, 16, 0, tzinfo=UTC): date(2026, 1, 1),
    }
    engine = engine_for(ledger_url)
    with Session(engine) as session, session.begin():
        connection = session.connection()
        table.create(connection)
        try:
            connection.execute(insert(table), [{"id": n, "at": at} for n, at in enumerate(instants)])
            found = connection.execute(select(table.c.id, text(_shanghai_date(connection.dialect.name, "at")))
                                       .select_from(table).order_by(table.c.id)).all()
        finally:
            table.drop(connection)
    assert [value if isinstance(value, date) else date.fromisoformat(value) for _id, value in found] == list(
        instants.values())
