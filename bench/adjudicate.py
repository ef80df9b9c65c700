"""Benchmark: adjudicate 100,000 claims against a 10-million-order day.

Prints claims/s and peak memory of adjudication (linking claims to their orders
in the lake, duplicates, rules, deadlines, decisions, decisions.csv) and, in the
same run, the time to ingest that order day. Target: adjudication under 10% of
the order-day ingest. Each phase runs in its own process (its own peak memory).

    python bench/adjudicate.py [--orders 10000000] [--claims 100000]
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


def _configure(workdir: Path) -> None:
    os.environ["CLAIMS_DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'claims.db'}"
    os.environ["CLAIMS_LANDING_URL"] = str(workdir / "landing")
    os.environ["CLAIMS_OUTBOX_URL"] = str(workdir / "outbox")
    os.environ["CLAIMS_LAKE_URL"] = str(workdir / "lake")


def phase(name: str, workdir: Path) -> dict:
    _configure(workdir)
    from claims.ledger.db import upgrade
    from claims.settings import load_settings

    upgrade(load_settings().database_url)
    # the modules that do the work are imported before the clock starts, in every
    # phase alike: the figures are of the work, not of Python's start-up
    import claims.adjudication.pipeline  # noqa: F401
    import claims.adjudication.publish  # noqa: F401
    import claims.ingest.pipeline  # noqa: F401

    start = time.perf_counter()
    if name == "adjudicate":
        from claims.adjudication import adjudicate_day

        summary = adjudicate_day(DAY)
        rows = sum(summary["decided"].values())
    else:
        from claims.ingest import ingest_source

        summary = ingest_source(name, DAY)
        rows = summary["rows_in"]
    return {"seconds": time.perf_counter() - start, "rows": rows, "peak_mb": peak_mb(), "summary": summary}


def run_phase(name: str, workdir: Path) -> dict:
    # Each phase starts with the page cache written out: otherwise the disk is
    # still writing the previous step's files (1.5 GB of landing CSV, the lake)
    # while the phase commits, and its fsyncs wait behind them.
    os.sync()
    output = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--workdir", str(workdir)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def write_claims(orders_csv: Path, target: Path, count: int) -> None:
    """Claims for a random sample of the day's completed orders: mostly small
    injuries inside the order's window, some inpatient, some disputed."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    from stdnum import luhn

    columns = ["order_id", "worker_id", "worker_name", "province_code", "city_code", "accepted_at", "completed_at",
               "status"]
    table = pacsv.read_csv(orders_csv, convert_options=pacsv.ConvertOptions(
        include_columns=columns, column_types={name: pa.string() for name in columns}))
    table = table.filter(pc.equal(table["status"], "completed"))
    rng = np.random.default_rng(11)
    pick = np.sort(rng.choice(table.num_rows, size=count, replace=False))
    sample = table.take(pa.array(pick))
    accepted = pc.strptime(pc.utf8_slice_codeunits(sample["accepted_at"], 0, 19), "%Y-%m-%dT%H:%M:%S", "s")
    incident = pc.add(accepted.cast(pa.int64()), pa.array(rng.integers(0, 300, count), pa.int64()))
    reported = pc.add(incident, pa.array(rng.integers(60, 3600, count), pa.int64()))

    def iso(seconds: pa.Array) -> pa.Array:
        text = pc.strftime(seconds.cast(pa.timestamp("s")), "%Y-%m-%dT%H:%M:%S")
        return pc.binary_join_element_wise(text, "+08:00", "")

    inpatient = rng.random(count) < 0.08
    accounts = []
    for index in range(count):
        body = f"62220{index:013d}"
        accounts.append(body + luhn.calc_check_digit(body))
    claims = pa.table({
        "claim_id": pa.array([f"MT-C{index:07d}" for index in range(count)]),
        "platform_code": pa.array([PLATFORM] * count),
        "order_id": sample["order_id"], "worker_id": sample["worker_id"], "worker_name": sample["worker_name"],
        "incident_at": iso(incident), "incident_province_code": sample["province_code"],
        "incident_city_code": sample["city_code"],
        "injury_type": pa.array(np.where(inpatient, "fracture", "sprain")),
        "treatment": pa.array(np.where(inpatient, "inpatient", "outpatient")),
        "inpatient_days": pa.array(np.where(inpatient, "4", "0")),
        "medical_cost_fen": pa.array([str(v) for v in rng.integers(10_000, 400_000, count)]),
        "disability_assessment": pa.array(np.where(rng.random(count) < 0.02, "true", "false")),
        "liability_disputed": pa.array(np.where(rng.random(count) < 0.03, "true", "false")),
        "documents": pa.array(["application_form;consent;diagnosis;receipts;liability_determination"] * count),
        "reported_at": iso(reported), "payee_account": pa.array(accounts),
        "payee_bank_code": pa.array(["102100099996"] * count),
    })
    target.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(claims, target)
    (target.parent / "_SUCCESS").write_bytes(b"")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--phase", choices=["orders", "claims", "adjudicate"])
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.workdir), default=str))
        return

    from claims.simulate import write_orders_csv

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-adjudicate-"))
    orders_dir = workdir / "landing" / "orders" / f"platform={PLATFORM}" / f"date={DAY.isoformat()}"
    orders_dir.mkdir(parents=True, exist_ok=True)
    orders_csv = orders_dir / "orders.csv"
    write_orders_csv(orders_csv, DAY, args.orders, seed=7, platform_code=PLATFORM)
    (orders_dir / "_SUCCESS").write_bytes(b"")
    write_claims(orders_csv, workdir / "landing" / "claims" / f"platform={PLATFORM}" / f"date={DAY.isoformat()}"
                 / "claims.csv", args.claims)
    print(f"landing: {args.orders:,} orders, {args.claims:,} claims")

    orders = run_phase("orders", workdir)
    claims = run_phase("claims", workdir)
    decide = run_phase("adjudicate", workdir)
    share = decide["seconds"] / orders["seconds"]
    print(f"ingest orders     : {orders['seconds']:7.2f} s  {orders['rows'] / orders['seconds']:>10,.0f} rows/s  "
          f"peak {orders['peak_mb']:6.0f} MB")
    print(f"ingest claims     : {claims['seconds']:7.2f} s  {claims['rows'] / claims['seconds']:>10,.0f} rows/s  "
          f"peak {claims['peak_mb']:6.0f} MB")
    print(f"adjudicate        : {decide['seconds']:7.2f} s  {decide['rows'] / decide['seconds']:>10,.0f} claims/s  "
          f"peak {decide['peak_mb']:6.0f} MB   outcomes {decide['summary']['decided']}")
    print(f"adjudication / order-day ingest: {share:.1%} (target < 10%)")
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
