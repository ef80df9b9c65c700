"""The readers under random and hostile input (issue 13): whatever a file holds,
a reader either reads it, accounting for every row (rows read + rows rejected =
rows in the file), or rejects it whole with :class:`FileRejected`; nothing else
escapes. And a decompression bomb costs a bounded amount of memory.

Bounded for the suite: a few dozen examples per format (well under 60 s in all);
raise ``READERS_FUZZ_EXAMPLES`` to search longer."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import tempfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims.readers import (
    MEMORY_BOUND_BYTES,
    FileReader,
    FileRejected,
    NeedExactLines,
    NotUtf8,
    detect_encoding,
    file_format,
    scan_file,
)
from tests.reader_bombs import LARGE_ROWS, LONG_LINE, OVERSIZED_ROWS, PIECE, SHORT_ROW, bombs, measure

#: Arrow decodes a malformed CSV row as UTF-8 before our handler sees it and reports
#: the failure as "Exception ignored"; the reader then settles the encoding (tested).
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
COLUMNS = ["a", "b", "c"]
EXAMPLES = int(os.environ.get("READERS_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMIT = 512  # a small line limit, so that random rows cross it


def read_file(path: Path, max_line_bytes: int = LIMIT) -> tuple[FileReader, list[dict], list[int]]:
    """Read as the ingestion does: settle the encoding and the exact lines, then read."""
    fmt = file_format(path.name)
    assert fmt is not None
    scan = scan_file(path, fmt)
    exact = False
    for _attempt in range(3):
        reader = FileReader(path, fmt, scan, COLUMNS, exact_lines=exact, max_line_bytes=max_line_bytes)
        try:
            reader.open()
            rows: list[dict] = []
            lines: list[int] = []
            for batch in reader.batches(3):
                assert batch.table.num_rows == len(batch.lines)
                assert all(batch.table[name].null_count == 0 for name in batch.table.column_names)
                rows.extend(batch.table.to_pylist())
                lines.extend(batch.lines.tolist())
            if reader.needs_line_remap(len(rows)):
                starts = reader.line_map()
                lines = [int(starts[line]) for line in lines]
            return reader, rows, lines
        except NotUtf8:
            scan.encoding = detect_encoding(path, fmt)
        except NeedExactLines:
            exact = True
    raise AssertionError("the reader never settled")


def outcome(path: Path, max_line_bytes: int = LIMIT) -> tuple[FileReader, list[dict], list[int]] | FileRejected:
    """The reader's verdict; any exception but FileRejected fails the test."""
    try:
        return read_file(path, max_line_bytes)
    except FileRejected as rejected:
        assert rejected.code and rejected.message
        return rejected


# -- strategies ----------------------------------------------------------------------------
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
hostile = st.one_of(text, st.sampled_from(['"', '""', ",", "\n", "\r\n", "\r", "\ufeff", "\x00", "a,b", '"x\ny"',
                                            "张三", "=cmd", " ", "\\", "{", "[1]", "\u2028"]))
value = st.one_of(hostile, st.text(max_size=3).map(lambda s: s * 300))  # some rows over LIMIT
rows_strategy = st.lists(st.fixed_dictionaries({name: value for name in COLUMNS}), max_size=12)


def gz(data: bytes, compress: bool) -> bytes:
    return gzip.compress(data, mtime=0) if compress else data


def csv_bytes(rows: list[dict], encoding: str) -> bytes:
    buffer = io.StringIO()
    # CRLF, so that the writer quotes a lone CR or LF in a value (with "\n" it leaves a CR bare)
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def account(path: Path, rows: list[dict], result: object, blank_is_row: bool) -> None:
    if isinstance(result, FileRejected):
        return
    assert isinstance(result, tuple)
    reader, read_rows, lines = result
    counted = len(read_rows) + len(reader.malformed) + (reader.blank_rows if blank_is_row else 0)
    assert counted == len(rows), (path.name, counted, len(rows), [m.detail for m in reader.malformed])
    assert len(lines) == len(set(lines)) and lines == sorted(lines)


# -- well-formed files of random content: every row accounted for ------------------------
@FUZZ
@given(rows=rows_strategy, compress=st.booleans(), encoding=st.sampled_from(["utf-8", "gb18030", "utf-8-sig"]))
def test_csv_accounts_for_every_row(rows: list[dict], compress: bool, encoding: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("x.csv.gz" if compress else "x.csv")
        try:
            data = csv_bytes(rows, encoding)
        except UnicodeEncodeError:
            data = csv_bytes(rows, "utf-8")
        path.write_bytes(gz(data, compress))
        result = outcome(path)
        if isinstance(result, FileRejected):
            # only a CSV line over the limit rejects a well-formed file
            assert result.code in ("LINE_TOO_LONG", "UNDECODABLE"), result.message
            return
        reader, read_rows, _ = result
        # a row of empty fields is a blank row; a line over the limit rejected the file above
        assert len(read_rows) + len(reader.malformed) + reader.blank_rows == len(rows)
        assert not reader.malformed
        expected = [row for row in rows if any(row.values())]
        assert len(read_rows) == len(expected)


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), value),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=6,
)


@FUZZ
@given(records=st.lists(st.dictionaries(st.sampled_from(COLUMNS + ["x", "y"]), json_value), max_size=12),
       compress=st.booleans(), ascii_only=st.booleans())
def test_jsonl_accounts_for_every_row(records: list[dict], compress: bool, ascii_only: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("x.jsonl.gz" if compress else "x.jsonl")
        data = "".join(json.dumps(record, ensure_ascii=ascii_only) + "\n" for record in records).encode()
        path.write_bytes(gz(data, compress))
        result = outcome(path)
        assert not isinstance(result, FileRejected), result
        reader, read_rows, lines = result
        assert len(read_rows) + len(reader.malformed) == len(records)
        assert sorted(lines + [m.line for m in reader.malformed]) == list(range(1, len(records) + 1))
        for row, line in zip(read_rows, lines, strict=True):
            record = records[line - 1]
            assert row["a"] == _json_text(record.get("a"))
        for item in reader.malformed:
            assert item.code in ("NOT_TEXT", "RECORD_TOO_LARGE"), item.detail


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


parquet_column = st.sampled_from(["string", "large_string", "binary", "int64", "int8", "float64", "float32",
                                  "bool", "timestamp", "timestamp_tz", "date", "dictionary", "null", "struct",
                                  "list", "decimal"])


def parquet_array(kind: str, count: int, draw_value: random.Random) -> pa.Array:
    pick = draw_value
    if kind in ("string", "large_string", "dictionary"):
        values = [pick.choice(["", "x", "张三", "a,b", "\x00", "y" * 600, None]) for _ in range(count)]
        array = pa.array(values, pa.large_string() if kind == "large_string" else pa.string())
        return array.dictionary_encode() if kind == "dictionary" else array
    if kind == "binary":
        return pa.array([pick.choice([b"ok", b"", "张".encode(), None]) for _ in range(count)], pa.binary())
    if kind in ("int64", "int8"):
        return pa.array([pick.choice([0, 18, -1, 127, None]) for _ in range(count)], getattr(pa, kind)())
    if kind in ("float64", "float32"):
        return pa.array([pick.choice([18.0, 0.5, -0.0, float("inf"), float("nan"), 1e20, None])
                         for _ in range(count)], getattr(pa, kind)())
    if kind == "bool":
        return pa.array([pick.choice([True, False, None]) for _ in range(count)])
    if kind in ("timestamp", "timestamp_tz"):
        stamp = pa.timestamp("us", "Asia/Shanghai" if kind == "timestamp_tz" else None)
        return pa.array([pick.choice([datetime(2025, 9, 1, 12), None]) for _ in range(count)], stamp)
    if kind == "date":
        return pa.array([pick.choice([datetime(2025, 9, 1).date(), None]) for _ in range(count)])
    if kind == "null":
        return pa.nulls(count)
    if kind == "struct":
        return pa.array([{"x": pick.randint(0, 9)} for _ in range(count)])
    if kind == "list":
        return pa.array([[pick.randint(0, 9)] for _ in range(count)])
    from decimal import Decimal

    return pa.array([pick.choice([Decimal("18.0"), Decimal("0.25"), None]) for _ in range(count)],
                    pa.decimal128(10, 2))


@FUZZ
@given(kinds=st.lists(parquet_column, min_size=3, max_size=3), count=st.integers(0, 40), seed=st.integers(0, 1000),
       row_group=st.integers(1, 50))
def test_parquet_accounts_for_every_row(kinds: list[str], count: int, seed: int, row_group: int) -> None:
    pick = random.Random(seed)
    table = pa.table({name: parquet_array(kind, count, pick) for name, kind in zip(COLUMNS, kinds, strict=True)})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.parquet"
        pq.write_table(table, path, row_group_size=row_group)
        result = outcome(path)
        if isinstance(result, FileRejected):
            assert result.code == "UNSUPPORTED_COLUMN_TYPE" and {"struct", "list"} & set(kinds), result.message
            return
        reader, read_rows, lines = result
        assert len(read_rows) + len(reader.malformed) == count
        assert sorted(lines + [m.line for m in reader.malformed]) == list(range(1, count + 1))


# -- hostile bytes: garbage, and valid files cut, flipped or spliced ------------------------
def _valid_file(fmt: str, rows: list[dict]) -> bytes:
    if fmt.startswith(".csv"):
        data = csv_bytes(rows, "utf-8")
    elif fmt.startswith(".jsonl"):
        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    else:
        sink = io.BytesIO()
        pq.write_table(pa.table({name: [row[name] for row in rows] for name in COLUMNS}, schema=pa.schema(
            [(name, pa.string()) for name in COLUMNS])), sink, row_group_size=4)
        return sink.getvalue()
    return gz(data, fmt.endswith(".gz"))


FORMATS = [".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet"]


@FUZZ
@given(fmt=st.sampled_from(FORMATS), rows=rows_strategy, cuts=st.lists(
    st.tuples(st.sampled_from(["truncate", "flip", "insert", "delete"]), st.integers(0, 10**6), st.binary(max_size=8)),
    min_size=1, max_size=3))
def test_damaged_files_are_read_or_rejected_whole(fmt: str, rows: list[dict], cuts: list[tuple[str, int, bytes]]) -> None:
    data = bytearray(_valid_file(fmt, rows))
    for action, where, junk in cuts:
        at = where % (len(data) + 1)
        if action == "truncate":
            del data[at:]
        elif action == "flip" and at < len(data):
            data[at] ^= 0xFF
        elif action == "insert":
            data[at:at] = junk
        elif action == "delete":
            del data[at: at + len(junk) + 1]
    _hostile(fmt, bytes(data))


@FUZZ
@given(fmt=st.sampled_from(FORMATS), data=st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"\n", b"\xef\xbb\xbf", b'a,b,c\n"', b"a,b,c\n1,2,3\r", b"PAR1", b"PAR1\x00\x00\x00\x00PAR1",
                     b"\x1f\x8b", gzip.compress(b"")[:-1], b"a,a,b,c\n", b'{"a": 1}\n{"a": ' + b"[" * 5000,
                     b"a,b,c\n" + b'"' * 1000, b"\x00" * 100]),
))
def test_garbage_is_read_or_rejected_whole(fmt: str, data: bytes) -> None:
    _hostile(fmt, data)


def _hostile(fmt: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{fmt}"
        path.write_bytes(data)
        result = outcome(path)
        if isinstance(result, FileRejected):
            return
        reader, read_rows, lines = result
        if fmt.startswith(".jsonl"):
            # every physical line is a row, a rejected row or blank: nothing is lost
            raw = gzip.decompress(data) if fmt.endswith(".gz") and data else data
            physical = raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0)
            assert len(read_rows) + len(reader.malformed) + reader.blank_rows == physical
        elif fmt.startswith(".csv"):
            # CSV rows are the records after the header: never more than the lines
            scan = scan_file(path, fmt)
            physical = scan.newlines + (0 if scan.ends_with_newline else 1)
            assert len(read_rows) + len(reader.malformed) + reader.blank_rows <= max(physical - 1, 0)
            assert all(2 <= line <= physical for line in lines)
        else:
            assert len(read_rows) + len(reader.malformed) == reader.row_estimate()


# -- decompression bombs: memory bounded by design ----------------------------------------
BOMB_BYTES = 256 << 20  # 4 gzip members of 64 MiB: 256 MiB of text from ~260 KB
BOMBS = bombs(BOMB_BYTES)


@pytest.mark.parametrize(("name", "verdict"), [
    ("one-line.jsonl.gz", "read"), ("long-rows.jsonl.gz", "read"), ("one-line.csv.gz", "LINE_TOO_LONG"),
    ("many-rows.csv.gz", "read"), ("oversized-rows.parquet", "read"), ("large-rows.parquet", "read"),
])
def test_a_decompression_bomb_costs_bounded_memory(tmp_path: Path, name: str, verdict: str) -> None:
    data, warm = BOMBS[name]()
    assert len(data) < 1 << 20  # a few hundred KB on disk, 256 MiB or more of text
    done = measure(tmp_path, name, data, warm, limit=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got, rows, malformed, growth = done.stdout.split()
    assert got == verdict
    if name == "one-line.jsonl.gz":
        assert (int(rows), int(malformed)) == (2, 1)  # the huge line is one RECORD_TOO_LARGE row
    if name == "long-rows.jsonl.gz":
        assert int(rows) == (BOMB_BYTES // PIECE) * (PIECE // len(LONG_LINE))
    if name == "many-rows.csv.gz":
        assert int(rows) == (BOMB_BYTES // PIECE) * (PIECE // len(SHORT_ROW))
    if name == "oversized-rows.parquet":
        assert (int(rows), int(malformed)) == (0, OVERSIZED_ROWS)
    if name == "large-rows.parquet":
        assert (int(rows), int(malformed)) == (LARGE_ROWS, 0)
    assert int(growth) < MEMORY_BOUND_BYTES, f"{name}: peak RSS grew by {int(growth) >> 20} MiB"
