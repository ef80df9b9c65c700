"""Read landing files (CSV, JSONL, Parquet; optionally gzipped) into Arrow batches.

Every value comes out as text, the contract's common form: CSV fields as they are,
JSON numbers and booleans as digits and ``true``/``false``, Parquet integers,
booleans and timestamps likewise (a naive timestamp keeps no offset and so means
Asia/Shanghai). Each batch carries the line of every row: the physical CSV line
(header = 1) or the 1-based record number in JSONL/Parquet.

A file that cannot be read at all raises :class:`FileRejected` with one reason
code; rows that cannot be parsed are reported as malformed with their line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

FORMATS = (".csv.gz", ".jsonl.gz", ".csv", ".jsonl", ".parquet")
_CHUNK = 8 * 1024 * 1024
_JSONL_BATCH = 100_000


class FileRejected(Exception):
    """The whole file is rejected with one reason code."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def file_format(name: str) -> str | None:
    lower = name.lower()
    for suffix in FORMATS:
        if lower.endswith(suffix):
            return suffix
    return None


@dataclass
class RowBatch:
    table: pa.Table  # the known columns, all strings, never null
    lines: np.ndarray  # int64, the line of each row


@dataclass
class Malformed:
    line: int
    detail: str


@dataclass
class FileScan:
    """What one pass over a file's bytes tells: identity, encoding, line count."""

    sha256: str
    size: int
    encoding: str | None  # "utf-8", "gb18030" or None (undecodable); None for parquet
    newlines: int
    ends_with_newline: bool


def scan_file(path: Path, fmt: str) -> FileScan:
    """Hash the raw bytes and count the lines in one pass. The encoding is taken
    to be UTF-8 until reading proves otherwise (Arrow checks every value it
    converts; :class:`NotUtf8` then sends the file to :func:`detect_encoding`)."""
    digest = hashlib.sha256()
    size = 0
    if fmt == ".parquet":
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return FileScan(digest.hexdigest(), size, None, 0, True)

    newlines = 0
    last = b""
    inflate = zlib.decompressobj(wbits=31) if fmt.endswith(".gz") else None
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            text = chunk
            if inflate is not None:
                try:
                    text = inflate.decompress(chunk)
                    while inflate.unused_data:  # concatenated gzip members
                        rest = inflate.unused_data
                        inflate = zlib.decompressobj(wbits=31)
                        text += inflate.decompress(rest)
                except zlib.error as error:
                    raise FileRejected("UNREADABLE", f"not a valid gzip file: {error}") from error
            if text:
                newlines += text.count(b"\n")
                last = text[-1:]
    if inflate is not None and not inflate.eof:
        raise FileRejected("UNREADABLE", "the gzip stream is truncated")
    return FileScan(digest.hexdigest(), size, "utf-8", newlines, last == b"\n")


class NotUtf8(Exception):
    """Raised while reading a file that turned out not to be valid UTF-8."""


class NeedExactLines(Exception):
    """A multi-threaded CSV read met a malformed row, whose line only a
    single-threaded read can tell: read the file again with ``exact_lines``."""


def detect_encoding(path: Path, fmt: str) -> str | None:
    """Strict UTF-8, else strict GB18030, else None (undecodable)."""
    raw = _raw_text_bytes(path, fmt.endswith(".gz"))
    for encoding in ("utf-8", "gb18030"):
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _raw_text_bytes(path: Path, gz: bool) -> bytes:
    if gz:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    return path.read_bytes()


def count_records(scan: FileScan, fmt: str, has_header: bool = True) -> int:
    """Rows a text file holds by its line count (for whole-file rejections)."""
    lines = scan.newlines + (0 if scan.ends_with_newline or scan.size == 0 else 1)
    return max(lines - (1 if has_header else 0), 0)


@dataclass
class FileReader:
    """Open a landing file; ``header`` is known before any batch is read."""

    path: Path
    fmt: str
    scan: FileScan
    wanted: list[str]
    header: list[str] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    blank_rows: int = 0
    #: Parse single-threaded so that malformed rows come with their line (slower;
    #: only after a multi-threaded read met one).
    exact_lines: bool = False

    def open(self) -> FileReader:
        if self.fmt == ".parquet":
            self._open_parquet()
        else:
            if self.scan.encoding is None:
                raise FileRejected("UNDECODABLE", "the file is neither valid UTF-8 nor valid GB18030")
            self.header = self._text_header()
        return self

    # -- header -------------------------------------------------------------------
    def _text_stream(self) -> BinaryIO:
        if self.scan.encoding == "gb18030":
            text = _raw_text_bytes(self.path, self.fmt.endswith(".gz")).decode("gb18030")
            return io.BytesIO(text.encode("utf-8"))
        if self.fmt.endswith(".gz"):
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return open(self.path, "rb")

    def _text_header(self) -> list[str]:
        with self._text_stream() as stream:
            first = stream.readline()
        if first.startswith(codecs.BOM_UTF8):
            first = first[len(codecs.BOM_UTF8):]
        try:
            line = first.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise NotUtf8(str(error)) from error
        if self.fmt.startswith(".jsonl"):
            return []  # JSONL has no header; columns are the union of the keys
        if not line.strip():
            raise FileRejected("MISSING_HEADER", "the file is empty or its first line is blank")
        header = next(csv.reader([line]))
        return [name.strip() for name in header]

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq

        try:
            self._parquet = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as error:
            raise FileRejected("UNREADABLE", f"not a readable Parquet file: {error}") from error
        self.header = list(self._parquet.schema_arrow.names)

    # -- batches ------------------------------------------------------------------
    def batches(self, batch_rows: int) -> Iterator[RowBatch]:
        if self.fmt == ".parquet":
            yield from self._parquet_batches(batch_rows)
        elif self.fmt.startswith(".jsonl"):
            yield from self._jsonl_batches(batch_rows)
        else:
            yield from self._csv_batches()

    def _csv_batches(self) -> Iterator[RowBatch]:
        import pyarrow.csv as pacsv

        present = [name for name in self.wanted if name in self.header]
        invalid: list[int] = []

        met_invalid: list[bool] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            if row.number is None:  # multi-threaded: the line is unknown
                met_invalid.append(True)
                return "skip"
            invalid.append(int(row.number))
            self.malformed.append(
                Malformed(int(row.number), f"expected {row.expected_columns} fields, found {row.actual_columns}")
            )
            return "skip"

        try:
            reader = pacsv.open_csv(
                self._text_stream(),
                read_options=pacsv.ReadOptions(use_threads=not self.exact_lines, block_size=32 << 20),
                parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in self.header},
                    include_columns=present,
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as error:
            raise _as_not_utf8(error) from error
        cursor = 2  # the first data row is record 2 (header = 1)
        for record in _utf8_checked(reader):
            if met_invalid:
                raise NeedExactLines()
            table = pa.Table.from_batches([record])
            pending = [n for n in invalid if n >= cursor]
            candidates = np.arange(cursor, cursor + table.num_rows + len(pending), dtype=np.int64)
            if pending:
                candidates = candidates[~np.isin(candidates, np.asarray(pending, dtype=np.int64))]
            numbers = candidates[: table.num_rows]
            if table.num_rows:
                cursor = int(numbers[-1]) + 1
            table, numbers = self._drop_blank(table, numbers)
            yield RowBatch(table, numbers)
        if met_invalid:
            raise NeedExactLines()

    def _drop_blank(self, table: pa.Table, numbers: np.ndarray) -> tuple[pa.Table, np.ndarray]:
        import pyarrow.compute as pc

        if table.num_columns == 0 or table.num_rows == 0:
            return table, numbers
        blank = None
        for column in table.columns:
            empty = pc.equal(pc.utf8_length(column), 0)
            blank = empty if blank is None else pc.and_(blank, empty)
        count = pc.sum(blank).as_py() or 0
        if not count:
            return table, numbers
        self.blank_rows += count
        keep = pc.invert(blank)
        return table.filter(keep), numbers[np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)]

    def row_estimate(self) -> int:
        """Rows the file holds, before reading it (for whole-file rejections)."""
        if self.fmt == ".parquet":
            return int(self._parquet.metadata.num_rows)
        return count_records(self.scan, self.fmt, has_header=not self.fmt.startswith(".jsonl"))

    def needs_line_remap(self, rows_seen: int) -> bool:
        """CSV record numbers equal physical lines unless a quoted field spans lines."""
        if self.fmt not in (".csv", ".csv.gz"):
            return False
        physical = self.scan.newlines + (0 if self.scan.ends_with_newline else 1)
        records = 1 + rows_seen + len(self.malformed) + self.blank_rows
        return physical != records

    def line_map(self) -> np.ndarray:
        """Physical start line of every record (index = record number), the slow exact path."""
        starts = [0]
        with self._text_stream() as stream:
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            previous_end = 0
            for _ in reader:
                starts.append(previous_end + 1)
                previous_end = reader.line_num
        return np.asarray(starts, dtype=np.int64)

    def _jsonl_batches(self, batch_rows: int) -> Iterator[RowBatch]:
        try:
            yield from self._jsonl_records(batch_rows)
        except UnicodeDecodeError as error:
            raise NotUtf8(str(error)) from error

    def _jsonl_records(self, batch_rows: int) -> Iterator[RowBatch]:
        names: list[str] = []
        seen_names: set[str] = set()
        columns: dict[str, list[str]] = {name: [] for name in self.wanted}
        lines: list[int] = []

        def flush() -> RowBatch:
            table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
            batch = RowBatch(table, np.asarray(lines, dtype=np.int64))
            for values in columns.values():
                values.clear()
            lines.clear()
            return batch

        with self._text_stream() as stream:
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="\n")
            for number, raw in enumerate(text, start=1):
                if not raw.strip():
                    self.blank_rows += 1
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError as error:
                    self.malformed.append(Malformed(number, f"not valid JSON: {error.msg}"))
                    continue
                if not isinstance(record, dict):
                    self.malformed.append(Malformed(number, "a JSONL line must be a JSON object"))
                    continue
                for key in record:
                    if key not in seen_names:
                        seen_names.add(key)
                        names.append(key)
                for name in self.wanted:
                    columns[name].append(_json_text(record.get(name)))
                lines.append(number)
                if len(lines) >= batch_rows:
                    yield flush()
        self.header = names
        yield flush()

    def _parquet_batches(self, batch_rows: int) -> Iterator[RowBatch]:
        present = [name for name in self.wanted if name in self.header]
        offset = 1
        for record in self._parquet.iter_batches(batch_size=batch_rows, columns=present):
            table = pa.table({name: _arrow_text(record.column(name)) for name in present})
            yield RowBatch(table, np.arange(offset, offset + table.num_rows, dtype=np.int64))
            offset += table.num_rows


def _utf8_checked(reader: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except pa.ArrowInvalid as error:
            raise _as_not_utf8(error) from error
        yield record


def _as_not_utf8(error: pa.ArrowInvalid) -> Exception:
    text = str(error).lower()
    return NotUtf8(str(error)) if "utf8" in text or "utf-8" in text else error


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _arrow_text(column: pa.Array) -> pa.Array:
    """The contract's text form of a Parquet column."""
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = column.cast(pa.string())
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    elif pa.types.is_timestamp(kind):
        if kind.tz is None:
            text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
        else:
            utc = column.cast(pa.timestamp(kind.unit, "UTC"))
            text = pc.binary_join_element_wise(pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S"), "+00:00", "")
    elif pa.types.is_dictionary(kind):
        text = _arrow_text(column.cast(kind.value_type))
    else:
        text = column.cast(pa.string())
    return pc.fill_null(text, "")
