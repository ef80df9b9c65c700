"""Readers: every format and encoding of the contract, line numbers, and the
files that cannot be read at all."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from claims import readers
from claims.ingest import ingest_source, publish_day
from claims.ledger.db import engine_for
from claims.ledger.models import LandingFile
from claims.readers import (
    FileReader,
    FileRejected,
    NeedExactLines,
    NotUtf8,
    detect_encoding,
    file_format,
    scan_file,
)
from claims.settings import load_settings
from tests import factories as f

COLUMNS = ["a", "b", "c"]
DAY = date(2025, 9, 1)


def read(path: Path, wanted: list[str] = COLUMNS, batch_rows: int = 2) -> tuple[FileReader, list[dict], list[int]]:
    fmt = file_format(path.name)
    assert fmt is not None
    scan = scan_file(path, fmt)
    exact = False
    for _attempt in range(3):
        try:
            return _read(path, fmt, scan, wanted, exact, batch_rows)
        except NotUtf8:
            scan.encoding = detect_encoding(path, fmt)
        except NeedExactLines:
            exact = True
    raise AssertionError("the reader never settled")


def _read(path, fmt, scan, wanted, exact=False, batch_rows=2):  # type: ignore[no-untyped-def]
    reader = FileReader(path, fmt, scan, wanted, exact_lines=exact).open()
    rows: list[dict] = []
    lines: list[int] = []
    seen = 0
    for batch in reader.batches(batch_rows):
        rows.extend(batch.table.to_pylist())
        lines.extend(batch.lines.tolist())
        seen += batch.table.num_rows
    if reader.needs_line_remap(seen):
        starts = reader.line_map()
        lines = [int(starts[line]) for line in lines]
        for item in reader.malformed:
            item.line = int(starts[item.line])
    return reader, rows, lines


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_csv_with_bom_and_shuffled_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "\ufeffc,a,b,extra\n3,1,2,z\n6,4,5,z\n".encode())
    reader, rows, lines = read(path)
    assert reader.header == ["c", "a", "b", "extra"]
    assert rows == [{"a": "1", "b": "2", "c": "3"}, {"a": "4", "b": "5", "c": "6"}]
    assert lines == [2, 3]


def test_gb18030_csv_keeps_chinese_text(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "a,b,c\n张三,李四,王五\n".encode("gb18030"))
    assert detect_encoding(path, ".csv") == "gb18030"
    _, rows, _ = read(path)
    assert rows == [{"a": "张三", "b": "李四", "c": "王五"}]


def test_undecodable_file_is_rejected_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", b"a,b,c\n\x81\x20\xff,1,2\n")
    with pytest.raises(FileRejected) as raised:
        read(path)
    assert raised.value.code == "UNDECODABLE"


def test_truncated_last_line_is_malformed_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", b"a,b,c\n1,2,3\n\n4,5,6\n7,8")
    reader, rows, lines = read(path)
    assert [row["a"] for row in rows] == ["1", "4"]
    assert lines == [2, 4]
    assert [(m.line) for m in reader.malformed] == [5]
    assert reader.blank_rows == 1


def test_quoted_newline_maps_rows_to_physical_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", b'a,b,c\n1,"two\nlines",3\n4,5,6\n7,8\n')
    reader, rows, lines = read(path)
    assert [row["b"] for row in rows] == ["two\nlines", "5"]
    assert lines == [2, 4]
    assert [m.line for m in reader.malformed] == [5]


def test_gzip_csv_and_corrupt_gzip(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv.gz", gzip.compress(b"a,b,c\n1,2,3\n", mtime=0))
    _, rows, lines = read(path)
    assert rows == [{"a": "1", "b": "2", "c": "3"}] and lines == [2]
    bad = write(tmp_path / "y.csv.gz", b"this is not gzip")
    with pytest.raises(FileRejected) as raised:
        scan_file(bad, ".csv.gz")
    assert raised.value.code == "UNREADABLE"
    truncated = write(tmp_path / "z.csv.gz", gzip.compress(b"a,b,c\n" + b"1,2,3\n" * 1000)[:-20])
    with pytest.raises(FileRejected):
        scan_file(truncated, ".csv.gz")


def test_jsonl_values_become_contract_text(tmp_path: Path) -> None:
    lines_text = [
        json.dumps({"a": "x", "b": 12, "c": True}),
        "",
        "{not json",
        json.dumps({"a": "y", "b": None, "c": False, "d": 1}),
        json.dumps([1, 2]),
    ]
    path = write(tmp_path / "x.jsonl.gz", gzip.compress("\n".join(lines_text).encode(), mtime=0))
    reader, rows, lines = read(path)
    assert rows == [{"a": "x", "b": "12", "c": "true"}, {"a": "y", "b": "", "c": "false"}]
    assert lines == [1, 4]
    assert [m.line for m in reader.malformed] == [3, 5]
    assert reader.header == ["a", "b", "c", "d"]


def test_parquet_types_become_contract_text(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    table = pa.table({
        "a": pa.array(["p", None], pa.string()),
        "b": pa.array([1200, 0], pa.int64()),
        "c": pa.array([datetime(2025, 9, 1, 12, 0), datetime(2025, 9, 1, 13, 0, 0, 500000)], pa.timestamp("us")),
        "d": pa.array([datetime(2025, 9, 1, 4, 0, tzinfo=UTC)] * 2, pa.timestamp("ms", "Asia/Shanghai")),
        "e": pa.array([True, False]),
    })
    pq.write_table(table, path)
    _, rows, lines = read(path, ["a", "b", "c", "d", "e"])
    assert rows[0] == {"a": "p", "b": "1200", "c": "2025-09-01T12:00:00.000000", "d": "2025-09-01T04:00:00.000+00:00", "e": "true"}
    assert rows[1]["a"] == "" and rows[1]["e"] == "false"
    assert lines == [1, 2]


def test_not_parquet_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path / "x.parquet", b"a,b,c\n1,2,3\n")
    with pytest.raises(FileRejected) as raised:
        FileReader(path, ".parquet", scan_file(path, ".parquet"), COLUMNS).open()
    assert raised.value.code == "UNREADABLE"


def test_empty_file_has_no_header(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", b"")
    with pytest.raises(FileRejected) as raised:
        FileReader(path, ".csv", scan_file(path, ".csv"), COLUMNS).open()
    assert raised.value.code == "MISSING_HEADER"


def test_same_bytes_same_sha_whatever_the_name(tmp_path: Path) -> None:
    one = write(tmp_path / "one.csv", b"a,b,c\n1,2,3\n")
    two = write(tmp_path / "two.csv", b"a,b,c\n1,2,3\n")
    assert scan_file(one, ".csv").sha256 == scan_file(two, ".csv").sha256


@pytest.mark.parametrize(("name", "fmt"), [
    ("x.csv", ".csv"), ("X.CSV.GZ", ".csv.gz"), ("a.b.jsonl", ".jsonl"), ("y.jsonl.gz", ".jsonl.gz"),
    ("z.parquet", ".parquet"), ("z.txt", None), ("z.csv.zip", None), ("_SUCCESS", None),
])
def test_formats_by_extension(name: str, fmt: str | None) -> None:
    assert file_format(name) == fmt


def test_a_late_non_utf8_row_sends_the_file_to_gb18030(tmp_path: Path) -> None:
    rows = "".join(f"{i},x,y\n" for i in range(50_000))
    path = write(tmp_path / "x.csv", ("a,b,c\n" + rows + "1,王五,z\n").encode("gb18030"))
    with pytest.raises(NotUtf8):
        _read(path, ".csv", scan_file(path, ".csv"), COLUMNS)
    _, rows_read, _ = read(path)
    assert len(rows_read) == 50_001 and rows_read[-1]["b"] == "王五"


def test_a_malformed_row_in_a_threaded_read_asks_for_an_exact_read(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", b"a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(NeedExactLines):
        _read(path, ".csv", scan_file(path, ".csv"), COLUMNS)
    reader, rows, _ = read(path)
    assert [m.line for m in reader.malformed] == [3] and len(rows) == 1


# -- files a reader cannot take: a coded rejection, never a crash (issue 13) ------------
def test_a_gzip_csv_line_longer_than_arrows_block_is_a_coded_rejection(tmp_path: Path) -> None:
    """A 200 MB line (issue 13) crashed the task with ArrowInvalid "straddling object";
    now the file is LINE_TOO_LONG, named by its line. Built of gzip members, so the
    test never holds the line."""
    line = gzip.compress(b"x" * (8 << 20), mtime=0) * 25
    head, tail = gzip.compress(b"a,b,c\n1,2,3\n", mtime=0), gzip.compress(b"\n4,5,6\n", mtime=0)
    path = write(tmp_path / "x.csv.gz", head + line + tail)
    with pytest.raises(FileRejected) as raised:
        read(path)
    assert raised.value.code == "LINE_TOO_LONG" and "line 3" in raised.value.message


@pytest.mark.parametrize("name", ["x.csv", "x.csv.gz"])
def test_a_csv_line_over_the_configured_limit_rejects_the_file(tmp_path: Path, name: str) -> None:
    data = b"a,b,c\n1,2,3\n" + b"1,2," + b"y" * 300 + b"\n4,5,6\n"
    path = write(tmp_path / name, gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    fmt = file_format(name)
    assert fmt is not None
    reader = FileReader(path, fmt, scan_file(path, fmt), COLUMNS, max_line_bytes=100).open()
    with pytest.raises(FileRejected) as raised:
        list(reader.batches(10))
    assert raised.value.code == "LINE_TOO_LONG" and "line 3" in raised.value.message
    # the same file under the default limit reads
    _, rows, _ = read(path)
    assert len(rows) == 3


def test_a_long_header_line_rejects_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", b"a,b,c," + b"z" * 200 + b"\n1,2,3,4\n")
    with pytest.raises(FileRejected) as raised:
        FileReader(path, ".csv", scan_file(path, ".csv"), COLUMNS, max_line_bytes=100).open()
    assert raised.value.code == "LINE_TOO_LONG"


def test_a_jsonl_line_over_the_limit_is_a_row_rejection(tmp_path: Path) -> None:
    lines_text = [json.dumps({"a": "1", "b": "2", "c": "3"}), json.dumps({"a": "x" * 5000, "b": "", "c": ""}),
                  json.dumps({"a": "4", "b": "5", "c": "6"})]
    for name in ("x.jsonl", "x.jsonl.gz"):
        data = "\n".join(lines_text).encode()
        path = write(tmp_path / name, gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
        fmt = file_format(name)
        assert fmt is not None
        reader = FileReader(path, fmt, scan_file(path, fmt), COLUMNS, max_line_bytes=1000).open()
        rows = [row for batch in reader.batches(10) for row in batch.table.to_pylist()]
        assert [row["a"] for row in rows] == ["1", "4"]
        assert [(m.line, m.code) for m in reader.malformed] == [(2, "RECORD_TOO_LARGE")]


@pytest.mark.parametrize(("column", "code"), [
    (pa.array([{"x": 1}, {"x": 2}]), "UNSUPPORTED_COLUMN_TYPE"),
    (pa.array([[1, 2], []]), "UNSUPPORTED_COLUMN_TYPE"),
    (pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64())), "UNSUPPORTED_COLUMN_TYPE"),
    (pa.array([b"\xff\xfe", b"ok"], pa.binary()), "UNDECODABLE"),
])
def test_parquet_columns_without_a_text_form_reject_the_file(tmp_path: Path, column: pa.Array, code: str) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": column, "b": ["1", "2"], "c": ["3", "4"]}), path)
    with pytest.raises(FileRejected) as raised:
        read(path)
    assert raised.value.code == code and raised.value.field == "a"


def test_parquet_binary_that_is_utf8_is_text(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": pa.array(["张三".encode()], pa.binary()), "b": ["1"], "c": ["2"]}), path)
    _, rows, _ = read(path)
    assert rows == [{"a": "张三", "b": "1", "c": "2"}]


def test_a_truncated_or_corrupt_parquet_file_is_unreadable(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    table = pa.table({name: pa.array([f"{name}{i}" for i in range(50_000)]) for name in COLUMNS})
    pq.write_table(table, good, row_group_size=10_000, compression="snappy", use_dictionary=False)
    data = good.read_bytes()
    truncated = write(tmp_path / "truncated.parquet", data[: len(data) // 2])
    with pytest.raises(FileRejected) as raised:
        read(truncated, batch_rows=100_000)
    assert raised.value.code == "UNREADABLE"
    # the footer intact, a data page in the middle overwritten: met while reading
    middle = len(data) // 2
    corrupt = write(tmp_path / "corrupt.parquet", data[:middle] + b"\xff" * 4096 + data[middle + 4096:])
    with pytest.raises(FileRejected) as raised:
        read(corrupt, batch_rows=100_000)
    assert raised.value.code == "UNREADABLE"


def test_a_parquet_row_over_the_limit_is_a_row_rejection_read_without_expanding(tmp_path: Path) -> None:
    """A dictionary-encoded 2 MiB value repeated 200,000 times (400 GB as text, a few
    hundred KB on disk) is rejected row by row from the dictionary's lengths."""
    rows = 200_000
    indices = pa.array(np.zeros(rows, dtype=np.int32))
    big = pa.DictionaryArray.from_arrays(indices, pa.array(["y" * (2 << 20)]))
    small = pa.DictionaryArray.from_arrays(indices, pa.array(["q"]))
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": big, "b": small, "c": small}), path, row_group_size=rows)
    assert path.stat().st_size < 1 << 20
    reader = FileReader(path, ".parquet", scan_file(path, ".parquet"), COLUMNS).open()
    kept = sum(batch.table.num_rows for batch in reader.batches(1_000_000))
    assert kept == 0 and len(reader.malformed) == rows
    assert {m.code for m in reader.malformed} == {"RECORD_TOO_LARGE"}


# -- duplicated columns, nested JSON values, floats --------------------------------------
def test_a_duplicated_csv_header_column_rejects_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", b"a,b, a,c\n1,2,3,4\n")
    with pytest.raises(FileRejected) as raised:
        read(path)
    assert raised.value.code == "DUPLICATE_COLUMN" and raised.value.field == "a"


def test_a_duplicated_parquet_column_rejects_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array(["1"]), pa.array(["2"]), pa.array(["3"])], names=["a", "b", "b"]),
                   path)
    with pytest.raises(FileRejected) as raised:
        read(path)
    assert raised.value.code == "DUPLICATE_COLUMN" and raised.value.field == "b"


def test_a_jsonl_key_given_twice_is_a_malformed_row(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", b'{"a": "1", "a": "2", "b": "", "c": ""}\n{"a": "3", "b": "", "c": ""}\n')
    reader, rows, _ = read(path)
    assert [row["a"] for row in rows] == ["3"]
    assert [(m.line, m.code) for m in reader.malformed] == [(1, "MALFORMED_ROW")]


def test_a_json_object_or_array_where_text_is_expected_is_a_coded_row_rejection(tmp_path: Path) -> None:
    lines_text = [
        json.dumps({"a": {"first": "张", "last": "三"}, "b": "", "c": ""}),
        json.dumps({"a": "ok", "b": ["x"], "c": ""}),
        json.dumps({"a": "fine", "b": "", "c": "", "extra": {"ignored": True}}),
    ]
    path = write(tmp_path / "x.jsonl", "\n".join(lines_text).encode())
    reader, rows, lines = read(path)
    assert rows == [{"a": "fine", "b": "", "c": ""}] and lines == [3]
    assert [(m.line, m.code, m.field) for m in reader.malformed] == [(1, "NOT_TEXT", "a"), (2, "NOT_TEXT", "b")]


def test_json_numbers_keep_their_digits_and_never_crash(tmp_path: Path) -> None:
    lines_text = [
        '{"a": 18.0, "b": 18, "c": 1e2}',
        '{"a": ' + "9" * 5000 + ', "b": -0, "c": NaN}',  # past Python's int-to-str digit limit
        '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",  # nested past the recursion limit
    ]
    path = write(tmp_path / "x.jsonl", "\n".join(lines_text).encode())
    reader, rows, _ = read(path)
    assert rows == [{"a": "18.0", "b": "18", "c": "1e2"}, {"a": "9" * 5000, "b": "-0", "c": "NaN"}]
    assert [(m.line, m.code) for m in reader.malformed] == [(3, "MALFORMED_ROW")]


def test_parquet_floats_read_like_json_floats(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": pa.array([18.0, 1.5, None]), "b": pa.array([18, 0, 1], pa.int64()),
                             "c": pa.array([-2.0, 0.25, 3.0], pa.float32())}), path)
    _, rows, _ = read(path)
    assert rows == [{"a": "18.0", "b": "18", "c": "-2.0"}, {"a": "1.5", "b": "0", "c": "0.25"},
                    {"a": "", "b": "1", "c": "3.0"}]


def test_gb18030_jsonl_is_transcoded_in_pieces(tmp_path: Path) -> None:
    rows_text = "".join(json.dumps({"a": f"王五{i}", "b": "", "c": ""}, ensure_ascii=False) + "\n" for i in range(30_000))
    path = write(tmp_path / "x.jsonl.gz", gzip.compress(rows_text.encode("gb18030"), mtime=0))
    _, rows, lines = read(path, batch_rows=10_000)
    assert len(rows) == 30_000 and rows[-1]["a"] == "王五29999" and lines[-1] == 30_000


# -- through the ingestion: the file is rejected whole, every other file loads ------------
def _drop(root: Path, platform: str, name: str, data: bytes) -> None:
    folder = root / "landing" / "orders" / f"platform={platform}" / f"date={DAY.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    (folder / "_SUCCESS").write_bytes(b"")


def _rejections(root: Path, platform: str) -> list[dict[str, str]]:
    path = root / "outbox" / "feedback" / f"platform={platform}" / f"date={DAY.isoformat()}" / "rejections.csv"
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def _parquet_bytes(table: pa.Table, **options: object) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)  # type: ignore[arg-type]
    return sink.getvalue()


def test_files_no_reader_can_take_are_rejected_whole_and_every_other_file_loads(
        ledger_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad files of the first platform in name order used to crash the task, so no
    later platform's orders loaded; now each is one coded line 0 naming the file."""
    monkeypatch.setenv("CLAIMS_MAX_LINE_BYTES", "4096")
    order = f.order(platform_code="caocao", order_id="C-1")
    good = f.csv_text([order])
    _drop(ledger_env, "caocao", "1-long-line.csv.gz",
          gzip.compress((good + "C-2,caocao," + "x" * 10_000 + "\n").encode(), mtime=0))
    _drop(ledger_env, "caocao", "2-struct.parquet", _parquet_bytes(pa.table(
        {**{name: [value] for name, value in order.items()}, "worker_name": pa.array([{"first": "张", "last": "三"}])})))
    many = pa.table({name: [f"{value}"] * 30_000 for name, value in order.items()})
    whole = _parquet_bytes(many, row_group_size=5_000, use_dictionary=False, compression="snappy")
    middle = len(whole) // 2
    _drop(ledger_env, "caocao", "3-corrupt.parquet", whole[:middle] + b"\xff" * 2048 + whole[middle + 2048:])
    _drop(ledger_env, "caocao", "4-duplicate-column.csv",
          ("worker_name," + good.replace("\n", ",李四\n", 1).split("\n", 1)[0] + "\n").encode())
    _drop(ledger_env, "caocao", "5-good.csv", f.csv_text([f.order(platform_code="caocao", order_id="C-9")]).encode())
    _drop(ledger_env, "didi", "1-good.csv", f.csv_text([f.order(order_id="D-1"), f.order(order_id="D-2")]).encode())

    summary = ingest_source("orders", DAY)
    publish_day(DAY)
    assert summary["files"] == 6 and not summary["unbalanced"]
    assert summary["rows_loaded"] == 3
    lines = {(r["source_file"].rsplit("/", 1)[-1], r["line"], r["reason_code"], r["field"])
             for r in _rejections(ledger_env, "caocao")}
    assert lines == {
        ("1-long-line.csv.gz", "0", "LINE_TOO_LONG", ""),
        ("2-struct.parquet", "0", "UNSUPPORTED_COLUMN_TYPE", "worker_name"),
        ("3-corrupt.parquet", "0", "UNREADABLE", ""),
        ("4-duplicate-column.csv", "0", "DUPLICATE_COLUMN", "worker_name"),
    }
    with Session(engine_for(load_settings().database_url)) as session:
        files = {key.rsplit("/", 1)[-1]: (status, rows_in, rows_loaded) for key, status, rows_in, rows_loaded in
                 session.execute(select(LandingFile.file_key, LandingFile.status, LandingFile.rows_in,
                                        LandingFile.rows_loaded))}
    assert files["3-corrupt.parquet"] == ("rejected", 30_000, 0)
    assert files["1-long-line.csv.gz"] == ("rejected", 2, 0)
    assert files["5-good.csv"][2] == 1 and files["1-good.csv"][2] == 2


def test_jsonl_and_parquet_18_0_get_the_same_verdict(ledger_env: Path) -> None:
    """CONTRACT.md: integers match ^[0-9]+$; a float 18.0 is not one, in JSONL or Parquet."""
    row = {**f.order(order_id="J-1"), "premium_fen": 18.0}
    _drop(ledger_env, "didi", "a.jsonl", (json.dumps(row, ensure_ascii=False) + "\n").encode())
    table = pa.table({name: [value] for name, value in {**row, "order_id": "P-1"}.items()})
    assert table["premium_fen"].type == pa.float64()
    _drop(ledger_env, "didi", "b.parquet", _parquet_bytes(table))
    summary = ingest_source("orders", DAY)
    publish_day(DAY)
    assert summary["rows_loaded"] == 0 and summary["rows_rejected"] == 2
    verdicts = [(r["record_id"], r["field"], r["reason_code"]) for r in _rejections(ledger_env, "didi")]
    assert verdicts == [("J-1", "premium_fen", "INVALID_INTEGER"), ("P-1", "premium_fen", "INVALID_INTEGER")]


def test_a_nested_json_name_is_a_coded_rejection_not_a_loaded_name(ledger_env: Path) -> None:
    rows = [{**f.order(order_id="J-1"), "worker_name": {"first": "张", "last": "三"}}, f.order(order_id="J-2")]
    _drop(ledger_env, "didi", "a.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode())
    summary = ingest_source("orders", DAY)
    publish_day(DAY)
    assert summary["rows_loaded"] == 1 and summary["rows_rejected"] == 1
    assert [(r["line"], r["field"], r["reason_code"]) for r in _rejections(ledger_env, "didi")] == [
        ("1", "worker_name", "NOT_TEXT")]


def test_a_parquet_row_group_over_the_cap_is_rejected_before_reading(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A Parquet page is read whole, and is never larger than its column chunk: row
    groups whose wanted columns exceed the cap are refused from the footer alone."""
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({name: [f"{name}{i}" for i in range(1000)] for name in COLUMNS}), path,
                   row_group_size=500, use_dictionary=False)
    metadata = pq.ParquetFile(path).metadata
    sizes = [sum(metadata.row_group(group).column(column).total_uncompressed_size for column in range(3))
             for group in range(metadata.num_row_groups)]
    size = max(sizes)
    monkeypatch.setattr(readers, "PARQUET_MAX_ROW_GROUP_BYTES", size - 1)
    with pytest.raises(FileRejected) as raised:
        FileReader(path, ".parquet", scan_file(path, ".parquet"), COLUMNS).open()
    assert raised.value.code == "ROW_GROUP_TOO_LARGE"
    assert f"row group {sizes.index(size) + 1} holds {size} bytes" in raised.value.message
    monkeypatch.setattr(readers, "PARQUET_MAX_ROW_GROUP_BYTES", size)
    _, rows, _ = read(path, batch_rows=1000)
    assert len(rows) == 1000


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_gb18030_csv_with_a_malformed_row_is_read_as_gb18030(tmp_path: Path) -> None:
    """Arrow cannot hand a GB18030 row to the malformed-row handler (it decodes it as
    UTF-8 first): the file is read again transcoded, not rejected as unreadable."""
    path = write(tmp_path / "x.csv", "a,b,c\n张三,李四,王五\n赵六,钱七\n".encode("gb18030"))
    reader, rows, _ = read(path)
    assert rows == [{"a": "张三", "b": "李四", "c": "王五"}]
    assert [(m.line, m.code) for m in reader.malformed] == [(3, "MALFORMED_ROW")]
    assert reader.scan.encoding == "gb18030"


def test_a_csv_without_any_wanted_column_reads_without_columns(tmp_path: Path) -> None:
    """Arrow reads every column when include_columns is empty; the reader must still
    hand out only the wanted ones (found by the fuzz test: a header of one NUL)."""
    path = write(tmp_path / "x.csv", b"\x00,z\n1,2\n3,4\n")
    reader = FileReader(path, ".csv", scan_file(path, ".csv"), COLUMNS).open()
    batches = list(reader.batches(10))
    assert sum(batch.table.num_rows for batch in batches) == 2
    assert all(batch.table.num_columns == 0 for batch in batches)


def test_a_parquet_string_column_that_is_not_utf8_is_undecodable(tmp_path: Path) -> None:
    """Parquet does not check that a string column holds UTF-8 (the fuzz test found a
    flipped byte loaded as text that nothing downstream could decode)."""
    path = tmp_path / "x.parquet"
    broken = pa.array([b"ok", b"\xcf"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"a": broken, "b": ["1", "2"], "c": ["3", "4"]}), path)
    assert pq.read_schema(path).field("a").type == pa.string()
    with pytest.raises(FileRejected) as raised:
        read(path)
    assert raised.value.code == "UNDECODABLE" and raised.value.field == "a"
