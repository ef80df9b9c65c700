"""A day's payout run reads what concerns the day's work, whatever the size of the
ledger's history: on SQLite every query of the run is planned by index."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from claims.adjudication import adjudicate_day
from claims.ingest import ingest_source, publish_day
from claims.ledger.db import engine_for
from claims.payouts import pay_day
from claims.settings import load_settings
from tests import factories as f
from tests.payouts.test_pipeline import DAY, land_claims, run
from tests.sqlite_plans import captured_plans, history_scans

HISTORY = ("claim_version", "decision", "claim_order", "payout_item", "payout_batch",
           "ledger_transaction", "ledger_posting", "bank_return", "bank_return_result")
#: Partial indexes of the few rows still open: read whole, they stay small.
BOUNDED = ("ix_payout_item_returned", "ix_decision_pending", "ix_decision_awaiting_confirmation")


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_no_query_of_a_payout_run_scans_the_history(ledger_env: Path) -> None:
    from claims.ingest.checks import BANK_RETURN_COLUMNS
    from tests.ingest.test_pipeline import drop_feed

    land_claims(ledger_env, DAY, 3)
    run(DAY)
    later = DAY + timedelta(days=1)
    batch = "PO20250901110000001"
    drop_feed(ledger_env, "bank_returns", later, "bank.csv", f.csv_text([
        {"batch_id": batch, "end_to_end_id": f"{batch}0001", "status": "settled", "failure_code": "",
         "failure_reason": "", "processed_at": f"{later}T09:00:00+08:00"},
        {"batch_id": batch, "end_to_end_id": f"{batch}0002", "status": "failed", "failure_code": "AC04",
         "failure_reason": "closed account", "processed_at": f"{later}T09:00:00+08:00"},
    ], BANK_RETURN_COLUMNS).encode())
    for source in ("orders", "claims", "determinations", "bank_returns"):
        ingest_source(source, later)
    publish_day(later)
    adjudicate_day(later)
    with captured_plans(engine_for(load_settings().database_url)) as plans:
        summary = pay_day(later)
    assert summary is not None and len(plans) >= 5
    assert history_scans(plans, HISTORY, bounded=BOUNDED) == []
