"""The order lake: per-order detail, pseudonymised, in Parquet (docs/architecture.md).

Valid orders stream batch by batch into a staging Parquet file, so memory stays
at about one batch whatever the file's size; the keys (order ids) are kept to find
repeats inside the file and orders already loaded from other files of the same
partition. In the common case (no repeat, nothing loaded before) the staging file
is the lake file; otherwise it is rewritten once without the dropped rows.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from claims.privacy import Pseudonymiser
from claims.reference import Reference
from claims.store import Store

#: The columns compared to tell an identical re-sent order from a different one.
COMPARED = ["order_id", "worker_ref", "industry", "province_code", "city_code",
            "accepted_at", "completed_at", "status", "premium_fen"]
LAKE_SCHEMA = pa.schema([
    ("order_id", pa.string()),
    ("platform_code", pa.string()),
    ("worker_ref", pa.string()),
    ("pseudonym_key_id", pa.string()),
    ("industry", pa.string()),
    ("province_code", pa.string()),
    ("city_code", pa.string()),
    ("accepted_at", pa.timestamp("us", "UTC")),
    ("completed_at", pa.timestamp("us", "UTC")),
    ("status", pa.string()),
    ("premium_fen", pa.int64()),
    ("expected_premium_fen", pa.int64()),
    ("premium_mismatch", pa.bool_()),
    ("line", pa.int64()),
])


def lake_key(platform_code: str, partition_date: date, sha256: str) -> str:
    return f"orders/platform={platform_code}/date={partition_date.isoformat()}/{sha256}.parquet"


def to_lake_rows(valid: pa.Table, partition_date: date, reference: Reference, pseudonymiser: Pseudonymiser) -> pa.Table:
    """Checked orders in the lake's form: a pseudonym for the worker, no name, the
    rate table's premium beside the one filed (a difference is flagged, not dropped)."""
    combos = pc.binary_join_element_wise(valid["platform_code"], valid["industry"], valid["province_code"], "|")
    unique = pc.unique(combos).to_pylist()
    rates = []
    for combo in unique:
        platform_code, industry, province_code = combo.split("|")
        rate = reference.premium_fen(platform_code, industry, province_code, partition_date)
        rates.append(-1 if rate is None else rate)
    expected = pc.take(pa.array(rates, pa.int64()), pc.index_in(combos, value_set=pa.array(unique)))
    return pa.table({
        "order_id": valid["order_id"],
        "platform_code": valid["platform_code"],
        "worker_ref": pseudonymiser.pseudonyms(valid["worker_id"]),
        "pseudonym_key_id": pa.array([pseudonymiser.key_id] * valid.num_rows, pa.string()),
        "industry": valid["industry"],
        "province_code": valid["province_code"],
        "city_code": valid["city_code"],
        "accepted_at": valid["accepted_at"],
        "completed_at": valid["completed_at"],
        "status": valid["status"],
        "premium_fen": valid["premium_fen"],
        "expected_premium_fen": expected,
        "premium_mismatch": pc.not_equal(valid["premium_fen"], expected),
        "line": valid["line"],
    }, schema=LAKE_SCHEMA)


@dataclass
class OrderStaging:
    """One landing file's valid orders on their way to the lake."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="claims-orders-")))
    ids: list[pa.Array] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)
    rows: int = 0
    _writer: pq.ParquetWriter | None = None
    #: Parquet encoding runs on a second thread (Arrow releases the GIL) while the
    #: next batch is parsed and checked; at most one batch waits.
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1))
    _pending: Future | None = None
    _increasing: bool | None = None

    @property
    def path(self) -> Path:
        return self.folder / "staged.parquet"

    def add(self, rows: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, LAKE_SCHEMA, compression="zstd")
        self._wait()
        self._pending = self._pool.submit(self._writer.write_table, rows, row_group_size=1_000_000)
        self.ids.append(rows["order_id"].combine_chunks())
        self.lines.append(rows["line"].to_numpy())
        self.rows += rows.num_rows

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def close(self) -> None:
        try:
            self._wait()
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def all_ids(self) -> pa.ChunkedArray:
        return pa.chunked_array(self.ids, pa.string())

    def all_lines(self) -> np.ndarray:
        return np.concatenate(self.lines) if self.lines else np.zeros(0, dtype=np.int64)

    def increasing(self) -> bool:
        """Whether the file's order ids are strictly increasing (worked out once)."""
        if self._increasing is None:
            self._increasing = self.rows < 2 or _strictly_increasing(self.all_ids())
        return self._increasing

    def id_range(self) -> tuple[str, str]:
        """The smallest and largest order id (code points: Arrow compares UTF-8 bytes);
        the first and last when the ids increase, as platforms often export them."""
        if self.increasing():
            return self.ids[0][0].as_py(), self.ids[-1][-1].as_py()
        bounds = pc.min_max(self.all_ids()).as_py()
        return bounds["min"], bounds["max"]

    def repeats(self) -> np.ndarray:
        """Rows whose order id an earlier row of the file already used."""
        repeat = np.zeros(self.rows, dtype=bool)
        ids = self.all_ids()
        if self.increasing():
            return repeat  # platforms often export in id order: then every id is new
        encoded = pc.dictionary_encode(ids).combine_chunks()
        if len(encoded.dictionary) == len(encoded):
            return repeat  # every key once: the common case needs no sort
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
        _, first = np.unique(indices, return_index=True)
        repeat[:] = True
        repeat[first] = False
        return repeat

    def rows_where(self, mask: np.ndarray, columns: list[str]) -> pa.Table:
        """The staged rows under ``mask`` (few), read back from the staging file."""
        table = pq.read_table(self.path, columns=columns)
        return table.filter(pa.array(mask))

    def publish(self, lake: Store, key: str, keep: np.ndarray, line_starts: np.ndarray | None) -> pa.Table:
        """Put the kept rows into the lake under ``key``; returns the columns the
        per-file aggregates need."""
        self.close()
        summary_columns = ["province_code", "city_code", "industry", "status", "premium_fen",
                           "expected_premium_fen", "premium_mismatch"]
        if keep.all() and line_starts is None:
            lake.put_file(key, self.path)
            return pq.read_table(self.path, columns=summary_columns)
        final = self.folder / "final.parquet"
        offset = 0
        with pq.ParquetWriter(final, LAKE_SCHEMA, compression="zstd") as writer:
            source = pq.ParquetFile(self.path)
            for batch in source.iter_batches(batch_size=1_000_000):
                part = pa.Table.from_batches([batch], schema=LAKE_SCHEMA)
                chosen = keep[offset: offset + part.num_rows]
                offset += part.num_rows
                part = part.filter(pa.array(chosen))
                if line_starts is not None:
                    fixed = line_starts[part["line"].to_numpy()]
                    part = part.set_column(part.schema.get_field_index("line"), "line", pa.array(fixed, pa.int64()))
                writer.write_table(part, row_group_size=1_000_000)
        lake.put_file(key, final)
        return pq.read_table(final, columns=summary_columns)

    def discard(self) -> None:
        import shutil

        try:
            self.close()
        finally:
            self._pool.shutdown(wait=True)
            shutil.rmtree(self.folder, ignore_errors=True)


def _strictly_increasing(ids: pa.ChunkedArray) -> bool:
    column = ids.combine_chunks()
    return bool(pc.all(pc.less(column.slice(0, len(column) - 1), column.slice(1))).as_py())


def loaded_ids(lake: Store, keys: list[str]) -> pa.Table:
    """The compared columns of the orders loaded before from the given lake files."""
    tables = []
    for key in keys:
        with lake.local_copy(key) as path:
            tables.append(pq.read_table(path, columns=COMPARED))
    return pa.concat_tables(tables) if tables else pa.table({name: pa.array([], LAKE_SCHEMA.field(name).type) for name in COMPARED})


def overlapping_ids(lake: Store, key: str, low: str, high: str) -> pa.Array:
    """The order ids of a lake file that lie in [low, high]: only the row groups whose
    id range (Parquet statistics) overlaps it are read."""
    with lake.local_copy(key) as path:
        source = pq.ParquetFile(path)
        column = source.schema_arrow.get_field_index("order_id")
        groups = []
        for index in range(source.metadata.num_row_groups):
            stats = source.metadata.row_group(index).column(column).statistics
            if stats is not None and stats.has_min_max and (stats.max < low or stats.min > high):
                continue
            groups.append(index)
        if not groups:
            return pa.array([], pa.string())
        ids = source.read_row_groups(groups, columns=["order_id"])["order_id"]
    inside = pc.and_(pc.greater_equal(ids, low), pc.less_equal(ids, high))
    return pc.filter(ids, inside).combine_chunks()


def order_stats(summary: pa.Table) -> list[dict]:
    """Aggregates per (province, prefecture, industry) of the orders a file loaded."""
    grouped = pa.table({
        "province_code": summary["province_code"],
        "city_code": summary["city_code"],
        "industry": summary["industry"],
        "completed": pc.cast(pc.equal(summary["status"], "completed"), pa.int64()),
        "premium_fen": summary["premium_fen"],
        "expected_premium_fen": pc.max_element_wise(summary["expected_premium_fen"], 0),
        "mismatch": pc.cast(summary["premium_mismatch"], pa.int64()),
    }).group_by(["province_code", "city_code", "industry"]).aggregate([
        ("completed", "count"), ("completed", "sum"), ("premium_fen", "sum"),
        ("expected_premium_fen", "sum"), ("mismatch", "sum"),
    ])
    rows = [
        {
            "province_code": item["province_code"], "city_code": item["city_code"], "industry": item["industry"],
            "order_count": item["completed_count"], "completed_count": item["completed_sum"],
            "cancelled_count": item["completed_count"] - item["completed_sum"],
            "premium_fen": item["premium_fen_sum"], "expected_premium_fen": item["expected_premium_fen_sum"],
            "premium_mismatches": item["mismatch_sum"],
        }
        for item in grouped.to_pylist()
    ]
    return sorted(rows, key=lambda r: (r["province_code"], r["city_code"], r["industry"]))
