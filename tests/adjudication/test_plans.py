"""A day's adjudication reads what concerns the day's claims, whatever the size of
the ledger's history: on SQLite (which keeps no statistics here) every query of a
run is planned by index from the day's claims, never as a scan of the history."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from claims.adjudication import adjudicate_day
from tests import factories as f
from tests.adjudication.test_pipeline import claims_file, orders_file, run
from tests.ingest.test_pipeline import determination_csv, drop, drop_feed
from tests.sqlite_plans import captured_plans, history_scans

DAY = date(2025, 9, 1)
HISTORY = ("claim_version", "decision", "claim_order", "payout_item", "determination", "awaiting_confirmation")
#: Partial indexes of the few decisions and confirmations still open: read whole,
#: they stay small; and the confirmations closed after the day (none but on a
#: re-run of an earlier day).
BOUNDED = ("ix_decision_pending", "ix_awaiting_confirmation_open", "ix_awaiting_confirmation_closed")


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_no_query_of_a_run_scans_the_history(ledger_env: Path) -> None:
    from claims.ledger.db import engine_for
    from claims.settings import load_settings

    drop(ledger_env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1"), f.order(order_id="O2")))
    drop(ledger_env, "claims", "didi", DAY, "c.csv", claims_file(
        f.claim(claim_id="C1", order_id="O1"), f.claim(claim_id="C2", order_id="O2", liability_disputed="true"),
        f.claim(claim_id="C3", order_id="O-LATE")))
    run(DAY)
    later = DAY + timedelta(days=1)
    drop(ledger_env, "claims", "didi", later, "c.csv", claims_file(f.claim(claim_id="C4", order_id="O1")))
    drop_feed(ledger_env, "determinations", later, "d.csv", determination_csv([{
        "claim_id": "C2", "platform_code": "didi", "decision": "approved", "approved_amount_fen": "5000",
        "reason": "", "decided_at": "2025-09-02T10:00:00+08:00", "decided_by": "HRSS"}]))
    for source in ("orders", "claims", "determinations"):
        from claims.ingest import ingest_source

        ingest_source(source, later)

    with captured_plans(engine_for(load_settings().database_url)) as plans:
        summary = adjudicate_day(later)
    assert summary["decided"] and summary["determinations"]  # the run did read and decide
    assert len(plans) >= 8
    assert history_scans(plans, HISTORY, bounded=BOUNDED) == []
