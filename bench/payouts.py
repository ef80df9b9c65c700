"""Benchmark: 100,000 approved claims into payout batches and files.

Prints items/s and peak memory of the payouts run (ledger postings, items,
batches of 3,000, CSV and pain.001 XML, manifest) and, in the same run, the time
to write the same rows as one plain CSV. Target: within 5x that plain write.

Every generated claim is fast-track eligible (outpatient, undisputed, no
disability assessment, cost under the 3,000-yuan cap), so all of them are
approved and paid.

    python bench/payouts.py [--claims 100000] [--orders 1000000] [--workdir DIR] [--repeat N]

With ``--workdir`` the prepared data (landing files, the decided ledger) is kept:
a later run with the same workdir skips generating and deciding (SQLite only),
restores the ledger as it was after deciding and measures the payouts again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _measure import peak_mb  # noqa: E402
from adjudicate import DAY, PLATFORM, _configure, write_claims  # noqa: E402


def phase(name: str, workdir: Path) -> dict:
    _configure(workdir)
    start = time.perf_counter()
    if name == "prepare":
        from claims.adjudication import adjudicate_day
        from claims.ingest import ingest_source

        for source in ("orders", "claims"):
            ingest_source(source, DAY)
        summary = adjudicate_day(DAY)
        return {"seconds": time.perf_counter() - start, "summary": summary, "peak_mb": peak_mb()}
    if name == "pay":
        import claims.payouts.pipeline  # noqa: F401 - imported before the clock, as in bench/adjudicate.py
        from claims.payouts import pay_day

        start = time.perf_counter()

        summary = pay_day(DAY, auto_release=True)
        return {"seconds": time.perf_counter() - start, "summary": summary, "peak_mb": peak_mb()}
    # plain: the same rows, one CSV, nothing else
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from claims.ledger.db import engine_for
    from claims.ledger.models import PayoutItem
    from claims.privacy import Cipher
    from claims.settings import load_settings

    settings = load_settings()
    cipher = Cipher.from_ring(settings.encryption_keys)
    with Session(engine_for(settings.database_url)) as session:
        items = session.execute(select(PayoutItem)).scalars().all()
        rows = [(i.batch_id, i.end_to_end_id, i.claim_id, i.platform_code, i.province_code, i.payee_name_enc,
                 i.payee_account_enc, i.payee_bank_code, i.amount_fen) for i in items]
    start = time.perf_counter()
    with open(workdir / "plain.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        for row in rows:
            writer.writerow([*row[:5], cipher.decrypt(row[5]), cipher.decrypt(row[6]), *row[7:], "CNY", row[2]])
    return {"seconds": time.perf_counter() - start, "rows": len(rows), "peak_mb": peak_mb()}


def write_approvable_claims(orders_csv: Path, target: Path, count: int) -> None:
    """``adjudicate.write_claims``, then every claim made fast-track eligible:
    incident and report inside the day's partition (claims on orders near
    midnight are dropped: a few extra are generated), outpatient sprain, no
    hospital stay, no disability assessment, undisputed, medical cost strictly
    under 300,000 fen (the national and Hainan cap)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    write_claims(orders_csv, target, count + count // 20 + 100)
    table = pacsv.read_csv(target, convert_options=pacsv.ConvertOptions(column_types={
        name: pa.string() for name in pacsv.read_csv(target).column_names}))
    inside = pc.and_(pc.starts_with(table["incident_at"], DAY.isoformat()),
                     pc.starts_with(table["reported_at"], DAY.isoformat()))
    table = table.filter(inside).slice(0, count)
    if table.num_rows < count:
        raise SystemExit(f"only {table.num_rows:,} claims inside {DAY}: use more --orders")
    rng = np.random.default_rng(13)
    rows = table.num_rows
    replace = {
        "injury_type": pa.array(["sprain"] * rows), "treatment": pa.array(["outpatient"] * rows),
        "inpatient_days": pa.array(["0"] * rows),
        "medical_cost_fen": pa.array([str(v) for v in rng.integers(10_000, 300_000, rows)]),
        "disability_assessment": pa.array(["false"] * rows), "liability_disputed": pa.array(["false"] * rows),
    }
    for name, values in replace.items():
        table = table.set_column(table.column_names.index(name), name, values)
    pacsv.write_csv(table, target)


def _restore(workdir: Path, snapshot: Path) -> None:
    """The ledger as it was after deciding; no payout outputs."""
    shutil.copyfile(snapshot, workdir / "claims.db")
    for folder in ("payouts", "reports"):
        shutil.rmtree(workdir / "outbox" / folder, ignore_errors=True)
    (workdir / "plain.csv").unlink(missing_ok=True)


def run_phase(name: str, workdir: Path) -> dict:
    output = subprocess.run([sys.executable, __file__, "--phase", name, "--workdir", str(workdir)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=["prepare", "pay", "plain"])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="measure the payouts run this many times")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.workdir), default=str))
        return
    from claims.simulate import write_orders_csv

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-payouts-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # SQLite only: a PostgreSQL ledger (BENCH_DATABASE_URL) is prepared afresh every time.
    snapshot = None if os.environ.get("BENCH_DATABASE_URL") else workdir / "prepared" / "claims.db"
    os.environ.setdefault("CLAIMS_GE_MAX_ROWS", "0")
    decided = "decided earlier"
    if snapshot is None or not snapshot.exists():
        orders_dir = workdir / "landing" / "orders" / f"platform={PLATFORM}" / f"date={DAY.isoformat()}"
        orders_dir.mkdir(parents=True, exist_ok=True)
        write_orders_csv(orders_dir / "orders.csv", DAY, args.orders, seed=7, platform_code=PLATFORM)
        (orders_dir / "_SUCCESS").write_bytes(b"")
        write_approvable_claims(orders_dir / "orders.csv", workdir / "landing" / "claims" / f"platform={PLATFORM}"
                                / f"date={DAY.isoformat()}" / "claims.csv", args.claims)
        prepared = run_phase("prepare", workdir)
        decided = f"decided in {prepared['seconds']:.1f} s"
        if snapshot is not None:
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(workdir / "claims.db", snapshot)
    runs = []
    for number in range(args.repeat):
        if snapshot is not None:
            _restore(workdir, snapshot)
        elif number:
            raise SystemExit("--repeat needs a SQLite ledger (unset BENCH_DATABASE_URL)")
        runs.append((run_phase("pay", workdir), run_phase("plain", workdir)))
    for paid, plain in runs:
        items = paid["summary"]["items"]
        print(f"approved claims   : {items:,} (of {args.claims:,} claims; {decided})")
        print(f"payouts run       : {paid['seconds']:7.2f} s  {items / paid['seconds']:>10,.0f} items/s  "
              f"peak {paid['peak_mb']:6.0f} MB  {paid['summary']['batches']} batches")
        print(f"plain CSV write   : {plain['seconds']:7.2f} s  {plain['rows'] / max(plain['seconds'], 1e-9):>10,.0f} rows/s")
        print(f"payouts / plain   : {paid['seconds'] / plain['seconds']:.1f}x (target <= 5x)")
    if len(runs) > 1:
        ratios = sorted(paid["seconds"] / plain["seconds"] for paid, plain in runs)
        seconds = sorted(paid["seconds"] for paid, _plain in runs)
        print(f"median of {len(runs)}      : payouts {seconds[len(seconds) // 2]:.2f} s, "
              f"ratio {ratios[len(ratios) // 2]:.1f}x")
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
