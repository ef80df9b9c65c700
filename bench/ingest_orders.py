"""Benchmark: one 10-million-order partition from landing to loaded.

Prints rows/s and peak memory of the whole ingest (parse, check, pseudonymise,
Great Expectations on the first CLAIMS_GE_MAX_ROWS rows, Parquet lake, ledger
commit) and, measured in the same run, a bare ``pyarrow.csv.read_csv`` of the same
file. Target: the ingest within 5x the bare read, peak memory under 3 GB.
Each phase runs in its own process so its peak memory is its own.

    python bench/ingest_orders.py [--orders 10000000] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _measure import peak_mb  # bench/ is on the path: these run as scripts

DAY = date(2025, 9, 1)
PLATFORM = "meituan"


def phase_read(path: Path) -> dict:
    import pyarrow.csv as pacsv

    start = time.perf_counter()
    table = pacsv.read_csv(path)
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "rows": table.num_rows, "peak_mb": peak_mb()}


def phase_ingest(workdir: Path) -> dict:
    os.environ["CLAIMS_DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'claims.db'}"
    os.environ["CLAIMS_LANDING_URL"] = str(workdir / "landing")
    os.environ["CLAIMS_OUTBOX_URL"] = str(workdir / "outbox")
    os.environ["CLAIMS_LAKE_URL"] = str(workdir / "lake")
    from claims.ingest import ingest_source
    from claims.ledger.db import upgrade
    from claims.settings import load_settings

    upgrade(load_settings().database_url)
    start = time.perf_counter()
    summary = ingest_source("orders", DAY)
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "rows": summary["rows_in"], "loaded": summary["rows_loaded"],
            "rejected": summary["rows_rejected"], "peak_mb": peak_mb()}


def run_phase(name: str, argument: Path, env: dict | None = None) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--argument", str(argument)],
        check=True, capture_output=True, text=True, env={**os.environ, **(env or {})},
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--phase", choices=["read", "ingest"])
    parser.add_argument("--argument", type=Path)
    args = parser.parse_args()
    if args.phase == "read":
        print(json.dumps(phase_read(args.argument)))
        return
    if args.phase == "ingest":
        print(json.dumps(phase_ingest(args.argument)))
        return

    from claims.simulate import write_orders_csv

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    partition = workdir / "landing" / "orders" / f"platform={PLATFORM}" / f"date={DAY.isoformat()}"
    partition.mkdir(parents=True, exist_ok=True)
    path = partition / "orders.csv"
    start = time.perf_counter()
    size = write_orders_csv(path, DAY, args.orders, seed=7, platform_code=PLATFORM)
    (partition / "_SUCCESS").write_bytes(b"")
    generated = time.perf_counter() - start
    print(f"generated {args.orders:,} orders, {size / 1e9:.2f} GB CSV in {generated:.1f} s")

    bare = run_phase("read", path)
    ingest = run_phase("ingest", workdir)
    lake_bytes = sum(p.stat().st_size for p in (workdir / "lake").rglob("*.parquet"))
    ratio = ingest["seconds"] / bare["seconds"]
    print(f"bare pyarrow.csv.read_csv : {bare['seconds']:7.2f} s  {bare['rows'] / bare['seconds']:>12,.0f} rows/s  "
          f"peak {bare['peak_mb']:7.0f} MB")
    print(f"whole ingest              : {ingest['seconds']:7.2f} s  {ingest['rows'] / ingest['seconds']:>12,.0f} rows/s  "
          f"peak {ingest['peak_mb']:7.0f} MB")
    print(f"rows in {ingest['rows']:,} = loaded {ingest['loaded']:,} + rejected {ingest['rejected']:,}")
    print(f"ingest / bare read        : {ratio:.2f}x (target <= 5x); peak memory target < 3000 MB")
    print(f"order lake: {lake_bytes / 1e6:.0f} MB Parquet, {lake_bytes / max(ingest['loaded'], 1):.1f} bytes/order")
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
