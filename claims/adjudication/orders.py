"""Bring the orders that claims refer to from the order lake into the ledger.

Claims are few next to orders (tens per million in real life, a thousand per
million in the benchmark): for the claims being decided whose order is not yet in
``claim_order``, the lake files of their platform for the incident's date and the
days before it that an order's coverage can reach (an order covers at most 24
hours after acceptance, plus the grace) are searched for just those order ids.

A row group whose order-id range (Parquet statistics) holds no wanted id is not
read: with few claims and ids in the platform's sequence, only a handful of row
groups are. When claims are everywhere in the file (the benchmark's 100,000
claims against 10 million orders), every row group is read, each on its own
against the wanted ids inside its range.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.ingest.orders import LAKE_SCHEMA
from claims.ledger.bulk import datetime_texts, insert_columns
from claims.ledger.models import ClaimOrder, LandingFile
from claims.store import Store

ORDER_COLUMNS = ["order_id", "worker_ref", "province_code", "city_code", "industry", "accepted_at",
                 "completed_at", "status"]
#: claim_order's columns as inserted (in this order).
LINK_COLUMNS = ["platform_code", *ORDER_COLUMNS, "file_id"]


def _coverage_days(grace: timedelta) -> int:
    """How many days before the incident's date an order accepted then can still cover it."""
    return 1 + grace.days + (1 if grace.seconds or grace.microseconds else 0)


@dataclass(frozen=True)
class LakeSearch:
    """Which lake files to read for which order ids (planned from the ledger, read
    without it: the reading can run beside other work)."""

    files: tuple[tuple[int, str, str, tuple[str, ...]], ...] = ()  # (file id, platform, lake key, sorted ids)


def plan_lake_search(session: Session, day: date, wanted: Iterable[tuple[str, date, Iterable[str]]],
                     grace: timedelta = timedelta(0)) -> LakeSearch:
    """The lake files that may hold the orders of ``wanted`` (platform code,
    incident's business date, the order ids of the claims of that date): those of
    the incident's date and of the days before it that an order's coverage can reach."""
    by_partition: dict[tuple[str, date], set[str]] = defaultdict(set)
    span = _coverage_days(grace)
    for platform_code, incident_day, order_ids in wanted:
        ids = set(order_ids)
        for back in range(span + 1):
            by_partition[(platform_code, incident_day - timedelta(days=back))] |= ids
    if not by_partition:
        return LakeSearch()
    platforms = sorted({platform for platform, _ in by_partition})
    dates = [partition for _, partition in by_partition]
    files = session.execute(
        select(LandingFile.id, LandingFile.platform_code, LandingFile.partition_date, LandingFile.lake_key).where(
            LandingFile.source == "orders", LandingFile.platform_code.in_(platforms),
            LandingFile.partition_date >= min(dates), LandingFile.partition_date <= max(dates),
            LandingFile.lake_key.is_not(None), LandingFile.business_day <= day,
        ).order_by(LandingFile.id)
    ).all()
    return LakeSearch(tuple(
        (file_id, platform_code, lake_key, tuple(sorted(by_partition[(platform_code, partition_date)])))
        for file_id, platform_code, partition_date, lake_key in files
        if lake_key is not None and by_partition.get((platform_code, partition_date))
    ))


def read_lake(lake: Store, search: LakeSearch) -> pd.DataFrame:
    """The orders a search finds, as a DataFrame of LINK_COLUMNS, at most one per
    (platform, order id): the first file loaded wins. Datetimes stay Arrow-typed
    (pandas timestamps in UTC)."""
    parts: list[pd.DataFrame] = []
    for file_id, platform_code, lake_key, ids in search.files:
        with lake.local_copy(lake_key) as path:
            table = _read_orders(path, list(ids))
        if table.num_rows:
            frame = table.to_pandas()
            frame.insert(0, "platform_code", platform_code)
            frame["file_id"] = file_id
            parts.append(frame)
    if not parts:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in LINK_COLUMNS})
    found = pd.concat(parts, ignore_index=True)
    return found.drop_duplicates(["platform_code", "order_id"], keep="first").reset_index(drop=True)[LINK_COLUMNS]


def _read_orders(path: str | Path, ids: list[str]) -> pa.Table:
    """The rows of one lake file whose order id is in ``ids`` (sorted).

    Row group by row group, on a few threads, each against only the wanted ids
    inside its order-id range (Parquet statistics): a row group whose range holds
    none is not read, and in a file of ids in sequence each row group looks up its
    own few ids. Looking up the whole set in every row group (Arrow's scanner
    does, batch by batch) rebuilds a hash table of every wanted id each time: with
    the benchmark's 100,000 claims that, and the scanner's memory churn, cost half
    the search (measured 2.2-2.8 CPU-seconds against 1.4, in a fresh process)."""
    handle = pq.ParquetFile(path)
    key_index = handle.schema_arrow.get_field_index("order_id")
    tasks = []  # (row group, first and end of its ids in ``ids``)
    for group in range(handle.num_row_groups):
        statistics = handle.metadata.row_group(group).column(key_index).statistics
        if statistics is not None and statistics.has_min_max:
            first = bisect.bisect_left(ids, statistics.min)
            end = bisect.bisect_right(ids, statistics.max, lo=first)
            if first < end:
                tasks.append((group, first, end))
        else:
            tasks.append((group, 0, len(ids)))
    if not tasks:
        return pa.table({name: pa.array([], LAKE_SCHEMA.field(name).type) for name in ORDER_COLUMNS})
    wanted = pa.array(ids, pa.string())  # sorted: a row group's ids are a slice of it (no copy)

    def read(task: tuple[int, int, int]) -> pa.Table:
        group, first, end = task
        reader = pq.ParquetFile(path, metadata=handle.metadata, read_dictionary=DICTIONARY_COLUMNS)
        table = reader.read_row_group(group, columns=ORDER_COLUMNS, use_threads=False)
        return table.filter(pc.is_in(table["order_id"], value_set=wanted.slice(first, end - first)))

    # (at most a few row groups decoded at once: a row group of a million orders is
    # about 100 MB of columns, whatever the number of cores)
    workers = min(pa.cpu_count(), MAX_GROUPS_AT_ONCE, len(tasks))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lake-group") as pool:
        # (the low-cardinality columns are read as their dictionaries and only the
        # rows kept are decoded to text: decoding them for every order cost much)
        return _decoded(pa.concat_tables(pool.map(read, tasks)))


def _decoded(table: pa.Table) -> pa.Table:
    """The dictionary-read columns as their values (the rows kept only)."""
    for index, column in enumerate(table.columns):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(index, table.field(index).name, column.cast(column.type.value_type))
    return table


#: How many row groups of a lake file are read at once, on as many threads.
MAX_GROUPS_AT_ONCE = 4
#: Columns with few distinct values (codes, statuses), read as Parquet dictionaries.
DICTIONARY_COLUMNS = ["province_code", "city_code", "industry", "status"]


def save_links(session: Session, found: pd.DataFrame) -> int:
    """Record the orders found in the lake in ``claim_order``."""
    if found.empty:
        return 0
    columns: list[list] = []
    for name in LINK_COLUMNS:
        series = found[name]
        if name in ("accepted_at", "completed_at"):  # text in the stored form: one vectorised step
            columns.append(datetime_texts(session, pa.array(series)))
        elif name == "file_id":
            columns.append([int(value) for value in series.tolist()])  # (numpy's integers as Python's)
        else:
            columns.append(series.tolist())
    return insert_columns(session, ClaimOrder.__table__, dict(zip(LINK_COLUMNS, columns, strict=True)))
