"""Peak memory of the readers on decompression bombs, one child process per file.

    .venv/bin/python bench/reader_memory.py [--mib 256]

Builds gzip bombs of every text format (a few hundred KB expanding to ``--mib`` of
text: one endless line, 1 MiB lines, millions of short rows) and Parquet dictionary
bombs (one 2 MiB or 100 KB value repeated to ``--mib``), reads each in a fresh
process as the ingestion does (scan, open, every batch dropped) and prints the
peak RSS growth over a warmed-up baseline, against ``claims.readers.MEMORY_BOUND_BYTES``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from claims.readers import MEMORY_BOUND_BYTES  # noqa: E402

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
print(verdict, rows, len(reader.malformed), (kib() - baseline) * 1024)
"""


def bombs(total: int) -> dict[str, tuple[bytes, bytes]]:
    piece = 64 << 20
    members = max(total // piece, 1)

    def repeat(text: bytes) -> bytes:
        return gzip.compress(text, compresslevel=9, mtime=0) * members

    long_line = json.dumps({"a": "y" * ((1 << 20) - 64), "b": "", "c": ""}).encode() + b"\n"
    short = b"1,2," + b"x" * 94 + b"\n"
    first = b'{"a": "1", "b": "2", "c": "3"}\n'
    text = {
        "one-line.jsonl.gz": (gzip.compress(first + b'{"a": "', mtime=0) + repeat(b"x" * piece)
                              + gzip.compress(b'"}\n', mtime=0), first),
        "long-rows.jsonl.gz": (repeat(long_line * (piece // len(long_line))), long_line),
        "one-line.csv.gz": (gzip.compress(b"a,b,c\n1,2,3\n", mtime=0) + repeat(b"z" * piece), b"a,b,c\n1,2,3\n"),
        "many-rows.csv.gz": (gzip.compress(b"a,b,c\n", mtime=0) + repeat(short * (piece // len(short))),
                             b"a,b,c\n" + short),
    }
    found = {name: (data, gzip.compress(warm, mtime=0)) for name, (data, warm) in text.items()}
    # Parquet: one dictionary value repeated, 2 MiB values (every row too large) and 100 KB values
    for name, value_bytes in (("oversized-rows.parquet", 2 << 20), ("large-rows.parquet", 100_000)):
        found[name] = (_parquet_dictionary(value_bytes, max(total // value_bytes, 1)), _parquet_bytes(
            pa.table({"a": ["1"], "b": ["2"], "c": ["3"]})))
    return found


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=max(len(table), 1))
    return sink.getvalue()


def _parquet_dictionary(value_bytes: int, rows: int) -> bytes:
    indices = pa.array(np.zeros(rows, dtype=np.int32))
    small = pa.DictionaryArray.from_arrays(indices, pa.array(["q"]))
    column = pa.DictionaryArray.from_arrays(indices, pa.array(["v" * value_bytes]))
    return _parquet_bytes(pa.table({"a": column, "b": small, "c": small}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="text each bomb expands to (MiB)")
    args = parser.parse_args()
    print(f"bound: {MEMORY_BOUND_BYTES >> 20} MiB of peak RSS growth")
    with tempfile.TemporaryDirectory() as folder:
        for name, (data, warm) in bombs(args.mib << 20).items():
            path = Path(folder) / name
            path.write_bytes(data)
            suffix = name[name.index("."):]
            (Path(folder) / f"warm{suffix}").write_bytes(warm)
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
            verdict, rows, rejected, growth = done.stdout.split()
            print(f"{name:20} {len(data) >> 10:6} KB -> {args.mib} MiB  {verdict:14} rows={rows:>8} "
                  f"rejected={rejected:>3}  peak growth {int(growth) >> 20:4} MiB  {time.perf_counter() - started:5.1f} s")


if __name__ == "__main__":
    main()
