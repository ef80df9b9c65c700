"""Benchmark: 100,000 approved claims into payout batches and files.

Prints items/s and peak memory of the payouts run (ledger postings, items,
batches of 3,000, CSV and pain.001 XML, manifest) and, in the same run, the time
to write the same rows as one plain CSV. Target: within 5x that plain write.

    python bench/payouts.py [--claims 100000] [--orders 1000000]
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
        from claims.payouts import pay_day

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
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.workdir), default=str))
        return
    from claims.simulate import write_orders_csv

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-payouts-"))
    orders_dir = workdir / "landing" / "orders" / f"platform={PLATFORM}" / f"date={DAY.isoformat()}"
    orders_dir.mkdir(parents=True, exist_ok=True)
    write_orders_csv(orders_dir / "orders.csv", DAY, args.orders, seed=7, platform_code=PLATFORM)
    (orders_dir / "_SUCCESS").write_bytes(b"")
    write_claims(orders_dir / "orders.csv", workdir / "landing" / "claims" / f"platform={PLATFORM}"
                 / f"date={DAY.isoformat()}" / "claims.csv", args.claims)
    os.environ.setdefault("CLAIMS_GE_MAX_ROWS", "0")
    prepared = run_phase("prepare", workdir)
    paid = run_phase("pay", workdir)
    plain = run_phase("plain", workdir)
    items = paid["summary"]["items"]
    print(f"approved claims   : {items:,} (of {args.claims:,} claims; decided in {prepared['seconds']:.1f} s)")
    print(f"payouts run       : {paid['seconds']:7.2f} s  {items / paid['seconds']:>10,.0f} items/s  "
          f"peak {paid['peak_mb']:6.0f} MB  {paid['summary']['batches']} batches")
    print(f"plain CSV write   : {plain['seconds']:7.2f} s  {plain['rows'] / max(plain['seconds'], 1e-9):>10,.0f} rows/s")
    print(f"payouts / plain   : {paid['seconds'] / plain['seconds']:.1f}x (target <= 5x)")
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
