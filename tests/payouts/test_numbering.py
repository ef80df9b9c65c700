"""The day's items are numbered into batches in SQL: the batch and end-to-end ids
must be what the contract's ordering gives (by province, then platform, claim and
instalment in code-point order, at most 3,000 a batch), on SQLite and on
PostgreSQL whatever its locale."""

from __future__ import annotations

from datetime import date

from sqlalchemy import MetaData, Table, text
from sqlalchemy.orm import Session

from claims.ledger.bulk import insert_rows
from claims.ledger.db import engine_for
from claims.payouts.pipeline import (
    _CREATE_OWED_TABLE,
    _OWED_COLUMNS,
    _OWED_TABLE,
    _STAGED_ITEMS,
    MAX_BATCH_ITEMS,
    _number_items,
)

DAY = date(2025, 9, 1)
#: Claim ids whose order differs between code points and a natural-language collation.
AWKWARD_IDS = ["a-2", "a1", "A-1", "B", "b", "ä", "Z9", "z-0", "中文", "_x"]


def _expected(owed: list[tuple[str, str, str, int]]) -> list[tuple[str, str, str, str]]:
    """(batch id, end-to-end id, platform, claim), in staging order, the Python way."""
    rows = []
    for province in sorted({row[0] for row in owed}):
        here = sorted((row[1], row[2], row[3]) for row in owed if row[0] == province)
        for index, (platform, claim, _instalment) in enumerate(here):
            batch_id = f"PO{DAY:%Y%m%d}{province}{index // MAX_BATCH_ITEMS + 1:03d}"
            rows.append((batch_id, f"{batch_id}{index % MAX_BATCH_ITEMS + 1:04d}", platform, claim))
    return rows


def test_items_are_numbered_into_batches_in_code_point_order(ledger_url: str) -> None:
    owed = [("460000", platform, claim, 1) for platform in ("didi", "meituan") for claim in AWKWARD_IDS]
    owed += [("110000", "meituan", f"MT-{number:05d}", 1 + number % 2) for number in range(2 * MAX_BATCH_ITEMS + 7)]
    engine = engine_for(ledger_url)
    with Session(engine) as session, session.begin():
        connection = session.connection()
        for name in (_STAGED_ITEMS.name, _OWED_TABLE):
            connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        _STAGED_ITEMS.create(connection)
        connection.execute(text(_CREATE_OWED_TABLE))
        if connection.dialect.name == "postgresql":  # a natural-language collation, as a server's locale may give
            for column in ("platform_code", "claim_id"):
                connection.execute(text(f'ALTER TABLE {_OWED_TABLE} ALTER COLUMN {column} TYPE VARCHAR(64) '
                                        'COLLATE "en-US-x-icu"'))
        insert_rows(session, Table(_OWED_TABLE, MetaData(), autoload_with=connection), _OWED_COLUMNS, [
            (platform, claim, 1, 100, instalment, 0, 1, province, "n", "a", "****", "102100099996")
            for province, platform, claim, instalment in reversed(owed)])
        connection.execute(_number_items(connection.dialect.name), {"day": DAY, "stamp": f"{DAY:%Y%m%d}"})
        staged = [tuple(row) for row in connection.execute(text(
            f"SELECT batch_id, end_to_end_id, platform_code, claim_id FROM {_STAGED_ITEMS.name} ORDER BY province_code, seq"))]
        session.rollback()
    assert staged == _expected(owed)
    assert {row[0] for row in staged} >= {"PO20250901110000003", "PO20250901460000001"}
    assert staged[2 * MAX_BATCH_ITEMS][1] == "PO202509011100000030001"
