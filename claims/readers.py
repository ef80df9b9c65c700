"""Read landing files (CSV, JSONL, Parquet; optionally gzipped) into Arrow batches.

Every value comes out as text, the contract's common form: CSV fields as they are,
JSON numbers as their digits (``18.0`` stays ``18.0``), booleans as
``true``/``false``, Parquet integers, floats (always with a decimal point, as in
JSON), booleans and timestamps likewise (a naive timestamp keeps no offset and so
means Asia/Shanghai). Each batch carries the line of every row: the physical CSV
line (header = 1) or the 1-based record number in JSONL/Parquet.

Nothing a file holds makes a reader fail otherwise: a file that cannot be read at
all raises :class:`FileRejected` with one reason code, at open or while its batches
are read (a corrupt Parquet page, a CSV line over the limit, a column of a type
that has no text form); a row that cannot be read is reported as
:class:`Malformed` with its line and code, and the rest of the file is read.

Memory is bounded by design, whatever the compression ratio or line length:

- every stream is read in pieces of at most ``_CHUNK`` (8 MiB) of compressed and of
  decompressed bytes (gzip output is inflated with ``max_length``; a GB18030 file is
  transcoded to UTF-8 piece by piece, never whole);
- no line is ever held whole beyond ``max_line_bytes`` (default
  :data:`MAX_LINE_BYTES`, 1 MiB, the setting ``CLAIMS_MAX_LINE_BYTES``): a longer
  JSONL line is skipped in bounded pieces and rejected as ``RECORD_TOO_LARGE``; a
  longer CSV line rejects the file (``LINE_TOO_LONG``: CSV rows cannot be cut apart
  safely), seen by a guard on the stream before Arrow's parser gets the block;
- a JSONL batch holds at most ``_JSONL_BATCH_BYTES`` (16 MiB) of text, a CSV batch
  one Arrow block (``_CSV_BLOCK``, 8 MiB), and Arrow may read at most ``_CSV_AHEAD``
  (4) blocks past the batches taken (left alone it reads ~32 blocks ahead);
- Parquet is read column chunk by column chunk without pre-buffering, text columns
  stay dictionary-encoded until each row's size is known (a row over the limit is
  ``RECORD_TOO_LARGE``) and are decoded ``_PARQUET_BATCH_BYTES`` (64 MiB) of text at
  a time; a file whose row group holds more than ``PARQUET_MAX_ROW_GROUP_BYTES``
  (512 MiB uncompressed) in the wanted columns is rejected (``ROW_GROUP_TOO_LARGE``):
  a Parquet page is read whole and is never larger than its column chunk, so that
  is Parquet's worst case.

The bound, :data:`MEMORY_BOUND_BYTES`: 256 MiB of peak RSS growth for reading a
file, whatever it expands to. By design a reader holds an 8 MiB inflate piece, one
1 MiB line, and one batch with its Arrow copy: a 16 MiB JSONL batch as Python
strings (~60 MiB), or 4 + 2 CSV blocks of 8 MiB in Arrow and the allocator's
retained pages (~130 MiB), or a 64 MiB Parquet slice; 256 MiB is twice the largest.
Measured (bench/reader_memory.py; tests/test_readers_fuzz.py asserts the bound on
bombs of ~250 KB expanding to 256 MiB, in a child process): at 1 GiB of text, one
JSONL line 9 MiB, 1 MiB JSONL lines 65 MiB, one CSV line 17 MiB, 10.8M CSV rows
126 MiB; Parquet dictionary bombs (400 GB, 500 MB as text) 20 and 49 MiB. The reader
before took 470-590 MiB on the 256 MiB bombs and crashed on a 200 MB CSV line. The
rows a caller keeps are its own.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

FORMATS = (".csv.gz", ".jsonl.gz", ".csv", ".jsonl", ".parquet")
#: The longest line (or Parquet row, as text) a reader takes, in bytes of UTF-8.
MAX_LINE_BYTES = 1 << 20
#: Peak RSS growth that reading any text file may cost (asserted by the bomb tests).
MEMORY_BOUND_BYTES = 256 << 20
PARQUET_MAX_ROW_GROUP_BYTES = 512 << 20
_CHUNK = 8 * 1024 * 1024
_READ = 1 << 20
_CSV_BLOCK = 8 << 20
_CSV_AHEAD = 4  # blocks Arrow may read past the batches taken
_CSV_AHEAD_WAIT = 1.0  # seconds; never a deadlock, whatever Arrow does
_JSONL_BATCH_BYTES = 16 << 20
_PARQUET_BATCH_ROWS = 65_536
_PARQUET_BATCH_BYTES = 64 << 20
_JSONL_MAX_NAMES = 1_000  # distinct JSONL keys remembered for the header (wanted ones always)
_CSV_FIELD_LIMIT = 64 << 20  # the exact-lines pass (Python's csv) refuses longer records


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
    code: str = "MALFORMED_ROW"
    field: str = ""


@dataclass
class FileScan:
    """What one pass over a file's bytes tells: identity, encoding, line count."""

    sha256: str
    size: int
    encoding: str | None  # "utf-8", "gb18030" or None (undecodable); None for parquet
    newlines: int
    ends_with_newline: bool
    #: The encoding was set after the scan (by :func:`detect_encoding`), not assumed.
    encoding_checked: bool = False

    def __setattr__(self, name: str, value: object) -> None:
        if name == "encoding" and "encoding" in self.__dict__:
            object.__setattr__(self, "encoding_checked", True)
        object.__setattr__(self, name, value)


def _raw_chunks(path: Path, digest: Any = None) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            if digest is not None:
                digest.update(chunk)
            yield chunk


def _inflated(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The decompressed bytes of a gzip stream (concatenated members too), in pieces
    of at most ``_CHUNK`` whatever the compression ratio."""
    inflate = zlib.decompressobj(wbits=31)
    started = False
    try:
        for data in chunks:
            while data:
                if inflate.eof:  # the next member
                    inflate = zlib.decompressobj(wbits=31)
                started = True
                out = inflate.decompress(data, _CHUNK)
                if out:
                    yield out
                data = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
    except zlib.error as error:
        raise FileRejected("UNREADABLE", f"not a valid gzip file: {error}") from error
    if started and not inflate.eof:
        raise FileRejected("UNREADABLE", "the gzip stream is truncated")


def scan_file(path: Path, fmt: str) -> FileScan:
    """Hash the raw bytes and count the lines in one pass. The encoding is taken
    to be UTF-8 until reading proves otherwise (Arrow checks every value it
    converts; :class:`NotUtf8` then sends the file to :func:`detect_encoding`)."""
    digest = hashlib.sha256()
    raw = _raw_chunks(path, digest)
    if fmt == ".parquet":
        size = sum(len(chunk) for chunk in raw)
        return FileScan(digest.hexdigest(), size, None, 0, True)

    sizes: list[int] = []

    def counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            sizes.append(len(chunk))
            yield chunk

    newlines = 0
    last = b""
    texts = _inflated(counted(raw)) if fmt.endswith(".gz") else counted(raw)
    for text in texts:
        newlines += text.count(b"\n")
        last = text[-1:]
    return FileScan(digest.hexdigest(), sum(sizes), "utf-8", newlines, last == b"\n")


class NotUtf8(Exception):
    """Raised while reading a file that turned out not to be valid UTF-8."""


class NeedExactLines(Exception):
    """A multi-threaded CSV read met a malformed row, whose line only a
    single-threaded read can tell: read the file again with ``exact_lines``."""


def detect_encoding(path: Path, fmt: str) -> str | None:
    """Strict UTF-8, else strict GB18030, else None (undecodable); streamed."""
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        try:
            for piece in _text_pieces(path, fmt.endswith(".gz")):
                decoder.decode(piece)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _text_pieces(path: Path, gz: bool) -> Iterator[bytes]:
    raw = _raw_chunks(path)
    return _inflated(raw) if gz else raw


def count_records(scan: FileScan, fmt: str, has_header: bool = True) -> int:
    """Rows a text file holds by its line count (for whole-file rejections)."""
    lines = scan.newlines + (0 if scan.ends_with_newline or scan.size == 0 else 1)
    return max(lines - (1 if has_header else 0), 0)


class _Transcoded(io.RawIOBase):
    """GB18030 bytes in, UTF-8 bytes out, one bounded piece at a time."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("gb18030")("strict")
        self._pending = b""
        self._offset = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._offset >= len(self._pending) and not self._done:
            chunk = self._raw.read(_READ)
            self._done = not chunk
            self._pending = self._decoder.decode(chunk, final=self._done).encode("utf-8")
            self._offset = 0
        count = min(len(buffer), len(self._pending) - self._offset)
        buffer[:count] = self._pending[self._offset: self._offset + count]
        self._offset += count
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


class _LineGuard:
    """Passes a byte stream through and ends it early (``too_long`` set to the line
    number) at the first line longer than ``limit``, before the parser sees it.
    Arrow reads it a block at a time; the block it returns is the one read (no copy).

    A line longer than ``limit`` contains a whole aligned block of ``limit // 2``
    bytes without a newline, so a piece is checked with a few ``find`` calls.

    It also holds Arrow's read-ahead to ``_CSV_AHEAD`` blocks past the batches the
    caller took (:meth:`took`): Arrow's streaming reader otherwise reads ~32 blocks
    ahead while the caller works, 256 MiB at 8 MiB blocks, 1 GiB at 32 MiB. Arrow
    makes one batch per block, so it never waits for more than it was allowed; a
    wait longer than ``_CSV_AHEAD_WAIT`` seconds lets the read through anyway."""

    def __init__(self, raw: BinaryIO, limit: int, block: int) -> None:
        self._raw = raw
        self._limit = limit
        self._run = 0  # bytes since the last newline
        self._newlines = 0
        self.too_long: int | None = None
        self.closed = False
        self._block = block
        self._read = 0
        self._taken = 0
        self._turn = threading.Condition()

    def took(self) -> None:
        """The caller took one more batch: Arrow may read one more block."""
        with self._turn:
            self._taken += 1
            self._turn.notify_all()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.too_long is not None:
            return b""
        with self._turn:
            self._turn.wait_for(lambda: self._read < (self._taken + _CSV_AHEAD) * self._block, _CSV_AHEAD_WAIT)
        data = self._raw.read(size if size is not None and size >= 0 else self._block)
        self._read += len(data)
        if not data or self._over(data):
            return b""
        return data

    def _over(self, data: bytes) -> bool:
        limit = self._limit
        first = data.find(b"\n")
        if first < 0:
            self._run += len(data)
            if self._run > limit:
                self.too_long = self._newlines + 1
            return self.too_long is not None
        if self._run + first > limit:
            self.too_long = self._newlines + 1
            return True
        last = data.rfind(b"\n")
        step = max(limit // 2, 1)
        for start in range(first + 1, last - step + 1, step):
            end = start + step
            if data.find(b"\n", start, end) >= 0:
                continue
            left = data.rfind(b"\n", 0, start)
            right = data.find(b"\n", end)
            if right - left - 1 > limit:
                self.too_long = self._newlines + data.count(b"\n", 0, left + 1) + 1
                return True
        self._newlines += data.count(b"\n")
        self._run = len(data) - last - 1
        if self._run > limit:
            self.too_long = self._newlines + 1
            return True
        return False

    def close(self) -> None:
        self._raw.close()
        self.closed = True


class _DuplicateKeys(dict):
    """A JSON object that remembers the first key it was given twice."""

    duplicate: str | None = None


def _object(pairs: list[tuple[str, Any]]) -> _DuplicateKeys:
    record = _DuplicateKeys(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        record.duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
    return record


#: Numbers keep their digits (``18.0`` stays ``18.0``; no int conversion limit), and
#: every object knows whether it repeated a key.
_JSON = json.JSONDecoder(object_pairs_hook=_object, parse_int=str, parse_float=str, parse_constant=str)


def _duplicated(names: list[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            return name
        seen.add(name)
    return None


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
    #: The longest line (JSONL record, CSV line, Parquet row as text) taken, in bytes.
    max_line_bytes: int = MAX_LINE_BYTES

    def open(self) -> FileReader:
        if self.fmt == ".parquet":
            self._open_parquet()
        else:
            if self.scan.encoding is None:
                raise FileRejected("UNDECODABLE", "the file is neither valid UTF-8 nor valid GB18030")
            self.header = self._text_header()
        return self

    # -- header -------------------------------------------------------------------
    def _text_stream(self, native: bool = False) -> BinaryIO:
        """The file's text as UTF-8 bytes. ``native``: inflated by Arrow, for a reader
        that only calls ``read(n)`` (Python's gzip copies each block twice more)."""
        raw: BinaryIO
        if not self.fmt.endswith(".gz"):
            raw = open(self.path, "rb")
        elif native:
            raw = pa.input_stream(str(self.path), compression="gzip")  # type: ignore[assignment]
        else:
            raw = gzip.open(self.path, "rb")  # type: ignore[assignment]
        if self.scan.encoding == "gb18030":
            return io.BufferedReader(_Transcoded(raw), buffer_size=_READ)  # type: ignore[return-value]
        return raw

    def _text_header(self) -> list[str]:
        with self._text_stream() as stream:
            first = _read_text(lambda: stream.readline(self.max_line_bytes + len(codecs.BOM_UTF8) + 2))
        if first.startswith(codecs.BOM_UTF8):
            first = first[len(codecs.BOM_UTF8):]
        if not self.fmt.startswith(".jsonl") and len(first.rstrip(b"\r\n")) > self.max_line_bytes:
            raise FileRejected("LINE_TOO_LONG", f"line 1 is longer than {self.max_line_bytes} bytes")
        try:  # a line cut at the limit may end inside a character
            line = codecs.getincrementaldecoder("utf-8")("strict").decode(first, final=False).rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise self._not_utf8(error) from error
        if self.fmt.startswith(".jsonl"):
            return []  # JSONL has no header; columns are the union of the keys
        if not line.strip():
            raise FileRejected("MISSING_HEADER", "the file is empty or its first line is blank")
        try:
            header = [name.strip() for name in next(csv.reader([line]))]
        except csv.Error as error:
            raise FileRejected("UNREADABLE", f"the header line cannot be parsed: {error}") from error
        twice = _duplicated(header)
        if twice is not None:
            raise FileRejected("DUPLICATE_COLUMN", f"{_reason('DUPLICATE_COLUMN')}: {_quoted(twice)}", twice)
        return header

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq

        try:
            schema = pq.ParquetFile(self.path).schema_arrow
            names = list(schema.names)
            twice = _duplicated(names)
            if twice is not None:
                raise FileRejected("DUPLICATE_COLUMN", f"{_reason('DUPLICATE_COLUMN')}: {_quoted(twice)}", twice)
            present = [name for name in self.wanted if name in names]
            for name in present:
                kind = schema.field(name).type
                if not _has_text_form(kind):
                    raise FileRejected(
                        "UNSUPPORTED_COLUMN_TYPE",
                        f"{_reason('UNSUPPORTED_COLUMN_TYPE')}: {_quoted(name)} is {kind}", name,
                    )
            textual = [name for name in present if _is_textual(schema.field(name).type)]
            self._parquet = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=_READ, read_dictionary=textual)
            metadata = self._parquet.metadata
            positions = [names.index(name) for name in present]
            for group in range(metadata.num_row_groups):
                row_group = metadata.row_group(group)
                size = sum(row_group.column(position).total_uncompressed_size for position in positions
                           if position < row_group.num_columns)
                if size > PARQUET_MAX_ROW_GROUP_BYTES:
                    raise FileRejected(
                        "ROW_GROUP_TOO_LARGE",
                        f"{_reason('ROW_GROUP_TOO_LARGE')}: row group {group + 1} holds {size} bytes",
                    )
        except FileRejected:
            raise
        except (pa.ArrowException, OSError, ValueError, IndexError) as error:
            raise FileRejected("UNREADABLE", f"not a readable Parquet file: {error}") from error
        self.header = names

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
        positional = [f"_{index}" for index in range(len(self.header))]
        by_name = {name: f"_{index}" for index, name in enumerate(self.header) if name}
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

        guard = _LineGuard(self._text_stream(native=True), self.max_line_bytes, _CSV_BLOCK)
        stream = guard
        try:
            try:
                reader = pacsv.open_csv(
                    stream,
                    read_options=pacsv.ReadOptions(
                        use_threads=not self.exact_lines, block_size=_CSV_BLOCK,
                        column_names=positional, skip_rows=1,
                    ),
                    parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False,
                                                  newlines_in_values=True),  # a quoted CR or LF is data
                    convert_options=pacsv.ConvertOptions(
                        column_types={name: pa.string() for name in positional},
                        include_columns=[by_name[name] for name in present],
                        strings_can_be_null=False,
                        quoted_strings_can_be_null=False,
                    ),
                )
            except (pa.ArrowException, OSError, EOFError, zlib.error) as error:
                raise self._csv_failure(error, guard) from error
            cursor = 2  # the first data row is record 2 (header = 1)
            for record in self._csv_checked(reader, guard):
                guard.took()
                if met_invalid:
                    raise NeedExactLines()
                # select: with no wanted column present Arrow's include_columns=[] means all
                table = pa.Table.from_batches([record]).select([by_name[name] for name in present]).rename_columns(present)
                pending = [n for n in invalid if n >= cursor]
                candidates = np.arange(cursor, cursor + table.num_rows + len(pending), dtype=np.int64)
                if pending:
                    candidates = candidates[~np.isin(candidates, np.asarray(pending, dtype=np.int64))]
                numbers = candidates[: table.num_rows]
                if table.num_rows:
                    cursor = int(numbers[-1]) + 1
                table, numbers = self._drop_blank(table, numbers)
                yield RowBatch(table, numbers)
        finally:
            stream.close()
        if guard.too_long is not None:
            raise FileRejected("LINE_TOO_LONG", f"line {guard.too_long} is longer than {self.max_line_bytes} bytes")
        if met_invalid:
            raise NeedExactLines()

    def _csv_checked(self, reader: Iterator[pa.RecordBatch], guard: _LineGuard) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except (pa.ArrowException, OSError, EOFError, zlib.error) as error:
                raise self._csv_failure(error, guard) from error
            yield record

    def _csv_failure(self, error: Exception, guard: _LineGuard) -> Exception:
        """What a failed CSV read means: the guard cut the stream at a long line, the
        text is not UTF-8 (read it again as GB18030), a record outgrows Arrow's block,
        or the file is unreadable."""
        if isinstance(error, FileRejected):
            return error
        text = str(error).lower()
        if guard.too_long is not None:
            return FileRejected("LINE_TOO_LONG", f"line {guard.too_long} is longer than {self.max_line_bytes} bytes")
        if "utf8" in text or "utf-8" in text:
            return self._not_utf8(error)
        if text.startswith("csv parse error") and not self.scan.encoding_checked:
            # Arrow could not hand a malformed row to the handler as UTF-8 text:
            # settle the encoding (GB18030 is read again transcoded), then judge
            return NotUtf8(str(error))
        if "straddling" in text or "straddles" in text:
            return FileRejected("LINE_TOO_LONG", f"a CSV record is longer than {_CSV_BLOCK} bytes")
        return FileRejected("UNREADABLE", f"the CSV cannot be parsed: {error}")

    def _not_utf8(self, error: Exception) -> Exception:
        """Read the file again as the encoding it proves to have; a file whose encoding
        was already settled and still fails is undecodable (never a loop)."""
        if self.scan.encoding_checked or self.scan.encoding != "utf-8":
            return FileRejected("UNDECODABLE", f"the file is not valid {self.scan.encoding}: {error}")
        return NotUtf8(str(error))

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
        previous_limit = csv.field_size_limit(_CSV_FIELD_LIMIT)
        try:
            with self._text_stream() as stream:
                text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
                reader = csv.reader(text)
                previous_end = 0
                for _ in reader:
                    starts.append(previous_end + 1)
                    previous_end = reader.line_num
        except (csv.Error, UnicodeDecodeError) as error:
            raise FileRejected("UNREADABLE", f"the CSV records cannot be told apart: {error}") from error
        finally:
            csv.field_size_limit(previous_limit)
        return np.asarray(starts, dtype=np.int64)

    def _jsonl_batches(self, batch_rows: int) -> Iterator[RowBatch]:
        try:
            yield from self._jsonl_records(batch_rows)
        except UnicodeDecodeError as error:
            raise self._not_utf8(error) from error

    def _jsonl_records(self, batch_rows: int) -> Iterator[RowBatch]:
        names: list[str] = []
        seen_names: set[str] = set()
        wanted = set(self.wanted)
        rows: list[list[str]] = []
        lines: list[int] = []
        held = 0
        limit = self.max_line_bytes

        def flush() -> RowBatch:
            table = pa.table({name: pa.array(list(map(itemgetter(index), rows)), pa.string())
                              for index, name in enumerate(self.wanted)})
            batch = RowBatch(table, np.asarray(lines, dtype=np.int64))
            rows.clear()
            lines.clear()
            return batch

        with self._text_stream() as stream:
            for number, raw in _bounded_lines(stream, limit):
                if raw is None:
                    self.malformed.append(Malformed(
                        number, f"the line is longer than {limit} bytes", "RECORD_TOO_LARGE"))
                    continue
                if not raw.strip():
                    self.blank_rows += 1
                    continue
                record = _jsonl_record(raw.decode("utf-8"), self.wanted)
                if isinstance(record, Malformed):
                    record.line = number
                    self.malformed.append(record)
                    continue
                keys, values = record
                if not seen_names.issuperset(keys):
                    for key in keys:
                        if key not in seen_names and (len(names) < _JSONL_MAX_NAMES or key in wanted):
                            seen_names.add(key)
                            names.append(key)
                rows.append(values)
                lines.append(number)
                held += len(raw)
                if len(lines) >= batch_rows or held >= _JSONL_BATCH_BYTES:
                    yield flush()
                    held = 0
        self.header = names
        yield flush()

    def _parquet_batches(self, batch_rows: int) -> Iterator[RowBatch]:
        present = [name for name in self.wanted if name in self.header]
        offset = 1
        records = self._parquet.iter_batches(batch_size=min(batch_rows, _PARQUET_BATCH_ROWS), columns=present)
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except (pa.ArrowException, OSError, ValueError) as error:
                raise FileRejected("UNREADABLE", f"a part of the Parquet file cannot be read: {error}") from error
            lines = np.arange(offset, offset + record.num_rows, dtype=np.int64)
            offset += record.num_rows
            sizes = np.zeros(record.num_rows, dtype=np.int64)
            for name in present:
                sizes += _text_bytes(record.column(name))
            over = sizes > self.max_line_bytes
            if over.any():
                for line in lines[over].tolist():
                    self.malformed.append(Malformed(
                        int(line), f"the row is longer than {self.max_line_bytes} bytes as text", "RECORD_TOO_LARGE"))
                record = record.filter(pa.array(~over))
                lines, sizes = lines[~over], sizes[~over]
            start = 0
            ends = np.cumsum(sizes)
            while start < record.num_rows:  # pieces of at most _PARQUET_BATCH_BYTES of text
                held = int(ends[start - 1]) if start else 0
                stop = max(int(np.searchsorted(ends, held + _PARQUET_BATCH_BYTES, side="right")), start + 1)
                piece = record.slice(start, stop - start)
                table = pa.table({name: self._parquet_text(piece.column(name), name) for name in present})
                yield RowBatch(table, lines[start:stop])
                start = stop

    def _parquet_text(self, column: pa.Array, name: str) -> pa.Array:
        try:
            return _arrow_text(column)
        except pa.ArrowInvalid as error:
            if "utf8" in str(error).lower() or "utf-8" in str(error).lower():
                raise FileRejected("UNDECODABLE", f"the column {_quoted(name)} holds bytes that are not UTF-8",
                                   name) from error
            raise FileRejected("UNSUPPORTED_COLUMN_TYPE",
                               f"{_reason('UNSUPPORTED_COLUMN_TYPE')}: {_quoted(name)}: {error}", name) from error
        except (pa.ArrowException, ValueError, TypeError) as error:
            raise FileRejected("UNSUPPORTED_COLUMN_TYPE",
                               f"{_reason('UNSUPPORTED_COLUMN_TYPE')}: {_quoted(name)}: {error}", name) from error


def _jsonl_record(text: str, wanted: list[str]) -> Malformed | tuple[Any, list[str]]:
    """One record's keys and the text of its wanted values, or why it cannot be read."""
    try:
        record = _JSON.decode(text)
    except json.JSONDecodeError as error:
        return Malformed(0, f"not valid JSON: {error.msg}")
    except RecursionError:
        return Malformed(0, "not valid JSON: nested too deeply")
    if not isinstance(record, _DuplicateKeys):  # every object is one (object_pairs_hook)
        return Malformed(0, "a JSONL line must be a JSON object")
    if record.duplicate is not None:
        return Malformed(0, f"the key {_quoted(record.duplicate)} appears twice in the object")
    get = record.get
    values = [get(name, "") for name in wanted]
    if set(map(type, values)) != {str}:  # the common case, all text, stays in C
        for index, value in enumerate(values):
            if isinstance(value, dict | list):
                kind = "an object" if isinstance(value, dict) else "an array"
                name = wanted[index]
                return Malformed(0, f"{name} holds {kind} where a text value is expected", "NOT_TEXT", name)
            values[index] = _json_text(value)
    return record.keys(), values


def _bounded_lines(stream: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Number and bytes of every line (a UTF-8 BOM dropped); None for a line longer
    than ``limit``, which is skipped a bounded piece at a time, never held."""
    readline = stream.readline
    number = 0
    try:
        while raw := readline(limit + 1):
            number += 1
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            if len(raw) > limit and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):
                    raw = readline(_READ)
                yield number, None
            else:
                yield number, raw
    except (EOFError, OSError, zlib.error) as error:
        raise FileRejected("UNREADABLE", f"the compressed stream cannot be read: {error}") from error


def _read_text(read: Callable[[], bytes]) -> bytes:
    """One read of a text stream; a gzip stream that breaks off is an unreadable file."""
    try:
        return read()
    except (EOFError, OSError, zlib.error) as error:
        raise FileRejected("UNREADABLE", f"the compressed stream cannot be read: {error}") from error


def _reason(code: str) -> str:
    from claims import reasons

    return reasons.message(code)


def _quoted(name: str) -> str:
    """A column name in a message: short and printable (it comes from the sender)."""
    shown = name if len(name) <= 64 else name[:64] + "..."
    return repr(shown)


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value  # strings and the digits of numbers (parse_int/parse_float keep them as text)
    return json.dumps(value, ensure_ascii=False)


def _is_textual(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_binary(kind) or pa.types.is_large_binary(kind))


def _has_text_form(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _has_text_form(kind.value_type)
    return not (pa.types.is_nested(kind) or pa.types.is_union(kind))


def _text_bytes(column: pa.Array) -> np.ndarray:
    """The length of each value as text (an estimate of 32 bytes for numbers and times),
    read without decoding a dictionary."""
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        if not _is_textual(kind.value_type):
            return np.full(len(column), 32, dtype=np.int64)
        lengths = pc.fill_null(pc.binary_length(column.dictionary), 0)
        indices = pc.fill_null(column.indices, 0)
        if len(column.dictionary) == 0:
            return np.zeros(len(column), dtype=np.int64)
        return np.asarray(pc.take(lengths, indices).to_numpy(zero_copy_only=False), dtype=np.int64)
    if _is_textual(kind) or pa.types.is_fixed_size_binary(kind):
        return np.asarray(pc.fill_null(pc.binary_length(column), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.full(len(column), 32, dtype=np.int64)


def _arrow_text(column: pa.Array) -> pa.Array:
    """The contract's text form of a Parquet column."""
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = column.cast(pa.string())
        text.validate(full=True)  # Parquet does not check that its strings are UTF-8
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
    elif pa.types.is_floating(kind):
        # A float is never an integer, even 18.0: keep its decimal point, as JSON does.
        plain = column.cast(pa.string())
        text = pc.if_else(pc.match_substring_regex(plain, r"^-?[0-9]+$"),
                          pc.binary_join_element_wise(plain, ".0", ""), plain)
    else:
        text = column.cast(pa.string())
    return pc.fill_null(text, "")
