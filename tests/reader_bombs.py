"""Decompression bombs for the readers and the child process that reads one and
measures its peak memory: shared by tests/test_readers_fuzz.py (the bound, under
an address-space limit) and bench/reader_memory.py (the figures)."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]

#: Reads the file argv[1] as the ingestion does (scan, open, every batch dropped)
#: after a warm-up file ``warm<suffix>`` beside it; prints the verdict, rows read,
#: rows rejected and the peak RSS growth over the warmed-up baseline (bytes). With
#: argv[2] = "limit", the address space is capped 2 GiB above the baseline: a reader
#: that is not bounded fails with MemoryError, not the machine.
CHILD = """
import resource, sys
from pathlib import Path
from claims.readers import FileReader, FileRejected, file_format, scan_file

def kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

path = Path(sys.argv[1])
warm = path.with_name("warm" + file_format(path.name))
for target in (warm, path):
    fmt = file_format(target.name)
    reader = FileReader(target, fmt, scan_file(target, fmt), ["a", "b", "c"])
    rows = 0
    try:
        reader.open()
        for batch in reader.batches(1_000_000):
            rows += batch.table.num_rows
        verdict = "read"
    except FileRejected as rejected:
        verdict = rejected.code
    if target == warm:
        baseline = kib()
        if sys.argv[2:] == ["limit"]:
            size = int(next(line for line in open("/proc/self/status") if line.startswith("VmSize")).split()[1])
            resource.setrlimit(resource.RLIMIT_AS, ((size << 10) + (2 << 30), resource.RLIM_INFINITY))
print(verdict, rows, len(reader.malformed), (kib() - baseline) * 1024)
"""

PIECE = 64 << 20  # text per gzip member: a member expands at most ~1000:1; members concatenate


def _members(piece: bytes, total: int) -> bytes:
    return gzip.compress(piece, compresslevel=9, mtime=0) * max(total // PIECE, 1)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=max(len(table), 1))
    return sink.getvalue()


def parquet_dictionary(value_bytes: int, rows: int) -> bytes:
    """One dictionary value repeated: a few hundred KB on disk, value_bytes x rows as text."""
    indices = pa.array(np.zeros(rows, dtype=np.int32))
    column = pa.DictionaryArray.from_arrays(indices, pa.array(["v" * value_bytes]))
    small = pa.DictionaryArray.from_arrays(indices, pa.array(["q"]))
    return _parquet(pa.table({"a": column, "b": small, "c": small}))


WARM_PARQUET = _parquet(pa.table({"a": ["1"], "b": ["2"], "c": ["3"]}))
LONG_LINE = json.dumps({"a": "y" * ((1 << 20) - 64), "b": "", "c": ""}).encode() + b"\n"
SHORT_ROW = b"1,2," + b"x" * 94 + b"\n"


OVERSIZED_ROWS = 200_000
LARGE_ROWS = 5_000


def bombs(total: int) -> dict[str, Callable[[], tuple[bytes, bytes]]]:
    """Each bomb by file name: a builder of (the file's bytes, its warm-up file's
    bytes); the text ones expand to about ``total`` bytes of text, the Parquet
    ones to OVERSIZED_ROWS and LARGE_ROWS rows whatever ``total``."""
    first = b'{"a": "1", "b": "2", "c": "3"}\n'
    return {
        # one endless JSON line between two valid ones: one RECORD_TOO_LARGE row
        "one-line.jsonl.gz": lambda: (
            gzip.compress(first + b'{"a": "', mtime=0) + _members(b"x" * PIECE, total)
            + gzip.compress(b'"}\n{"a": "4", "b": "5", "c": "6"}\n', mtime=0), gzip.compress(first, mtime=0)),
        "long-rows.jsonl.gz": lambda: (_members(LONG_LINE * (PIECE // len(LONG_LINE)), total),
                                       gzip.compress(LONG_LINE, mtime=0)),
        "one-line.csv.gz": lambda: (gzip.compress(b"a,b,c\n1,2,3\n", mtime=0) + _members(b"z" * PIECE, total),
                                    gzip.compress(b"a,b,c\n1,2,3\n", mtime=0)),
        "many-rows.csv.gz": lambda: (gzip.compress(b"a,b,c\n", mtime=0)
                                     + _members(SHORT_ROW * (PIECE // len(SHORT_ROW)), total),
                                     gzip.compress(b"a,b,c\n" + SHORT_ROW, mtime=0)),
        # 2 MiB values: every row RECORD_TOO_LARGE, from the dictionary (400 GB as text)
        "oversized-rows.parquet": lambda: (parquet_dictionary(2 << 20, OVERSIZED_ROWS), WARM_PARQUET),
        # 100 KB values, valid rows (500 MB as text): decoded 64 MiB at a time
        "large-rows.parquet": lambda: (parquet_dictionary(100_000, LARGE_ROWS), WARM_PARQUET),
    }


def measure(folder: Path, name: str, data: bytes, warm: bytes, limit: bool, timeout: float | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Write the bomb and its warm-up file into ``folder`` and read it in a child
    process (CHILD); the completed process (stdout: verdict rows rejected growth)."""
    path = folder / name
    path.write_bytes(data)
    (folder / ("warm" + name[name.index("."):])).write_bytes(warm)
    return subprocess.run([sys.executable, "-c", CHILD, str(path), *(["limit"] if limit else [])], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
