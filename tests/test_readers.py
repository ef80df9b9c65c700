"""Readers: every format and encoding of the contract, line numbers, and the
files that cannot be read at all."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from claims.readers import (
    FileReader,
    FileRejected,
    NeedExactLines,
    NotUtf8,
    detect_encoding,
    file_format,
    scan_file,
)

COLUMNS = ["a", "b", "c"]


def read(path: Path, wanted: list[str] = COLUMNS) -> tuple[FileReader, list[dict], list[int]]:
    fmt = file_format(path.name)
    assert fmt is not None
    scan = scan_file(path, fmt)
    exact = False
    for _attempt in range(3):
        try:
            return _read(path, fmt, scan, wanted, exact)
        except NotUtf8:
            scan.encoding = detect_encoding(path, fmt)
        except NeedExactLines:
            exact = True
    raise AssertionError("the reader never settled")


def _read(path, fmt, scan, wanted, exact=False):  # type: ignore[no-untyped-def]
    reader = FileReader(path, fmt, scan, wanted, exact_lines=exact).open()
    rows: list[dict] = []
    lines: list[int] = []
    seen = 0
    for batch in reader.batches(2):
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
