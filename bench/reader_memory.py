"""Peak memory of the readers on decompression bombs, one child process per file.

    .venv/bin/python bench/reader_memory.py [--mib 256]

Builds gzip bombs of every text format (a few hundred KB expanding to ``--mib`` of
text: one endless line, 1 MiB lines, millions of short rows) and Parquet dictionary
bombs (200,000 rows of one 2 MiB value, 5,000 of one 100 KB value), reads each in a fresh
process as the ingestion does (scan, open, every batch dropped) and prints the
peak RSS growth over a warmed-up baseline, against ``claims.readers.MEMORY_BOUND_BYTES``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from claims.readers import MEMORY_BOUND_BYTES  # noqa: E402
from tests.reader_bombs import bombs, measure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="text each bomb expands to (MiB)")
    args = parser.parse_args()
    print(f"bound: {MEMORY_BOUND_BYTES >> 20} MiB of peak RSS growth")
    with tempfile.TemporaryDirectory() as folder:
        for name, build in bombs(args.mib << 20).items():
            data, warm = build()
            started = time.perf_counter()
            done = measure(Path(folder), name, data, warm, limit=False)
            done.check_returncode()
            verdict, rows, rejected, growth = done.stdout.split()
            print(f"{name:22} {len(data) >> 10:6} KB  {verdict:14} rows={rows:>8} "
                  f"rejected={rejected:>6}  peak growth {int(growth) >> 20:4} MiB  {time.perf_counter() - started:5.1f} s")


if __name__ == "__main__":
    main()
