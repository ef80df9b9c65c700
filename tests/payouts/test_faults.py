"""Faults with real processes: the payout step is killed with SIGKILL at
arbitrary moments, then run again. Whatever the moment, nothing is paid twice,
nothing is lost, and the outbox never shows a half-written file."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.adjudication import adjudicate_day
from claims.ingest import ingest_source
from claims.ledger.db import engine_for
from claims.ledger.models import LedgerTransaction, PayoutItem
from claims.payouts import pay_day
from claims.settings import load_settings
from tests.payouts.test_pipeline import DAY, land_claims

PAY = "from datetime import date; from claims.payouts import pay_day; pay_day(date(2025, 9, 1))"


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 0.9, 1.5, 2.1, 2.7])  # the run takes about 3 s here
def test_killed_payout_runs_leave_no_duplicate_no_loss_no_half_file(ledger_env: Path, delay: float) -> None:
    land_claims(ledger_env, DAY, 3200)  # two batches, so files are written one after another
    for source in ("orders", "claims"):
        ingest_source(source, DAY)
    adjudicate_day(DAY)
    victim = subprocess.Popen([sys.executable, "-c", PAY], env=dict(os.environ), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(delay)
    if victim.poll() is None:
        victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)

    outbox = ledger_env / "outbox"
    half = [p for p in outbox.rglob("*") if p.is_file() and p.name.startswith(".tmp-")]
    for leftover in half:  # a temp name may remain after SIGKILL, but never under a published name
        leftover.unlink()
    result = pay_day(DAY)
    assert result["released"] and result["items"] == 3200 and result["batches"] == 2

    day_folder = outbox / "payouts" / f"date={DAY.isoformat()}"
    manifest = json.loads((day_folder / "manifest.json").read_text("utf-8"))
    for entry in manifest["files"]:
        data = (outbox / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
    with Session(engine_for(load_settings().database_url)) as session:
        assert session.scalar(select(func.count()).select_from(PayoutItem)) == 3200
        assert session.scalar(select(func.count(func.distinct(PayoutItem.claim_id)))) == 3200
        assert session.scalar(select(func.count()).select_from(LedgerTransaction).where(
            LedgerTransaction.kind == "disburse")) == 3200
    assert pay_day(DAY)["files_written"] == 0  # and a further run changes nothing
