"""The payout figures a day's reports read are running totals of the detail: the
day's finance CSVs are the closed day's rows and add up to the reconciliation; a
closed day whose detail changed is found (by the rotating check and by the SQL
recomputation) and fails the tie-out; and the report of a day reads the history
only through bounded windows (SQLite plans)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.ledger.db import engine_for
from claims.ledger.models import LedgerPosting, LedgerTransaction
from claims.reports import PayoutTieOutError, report_day
from claims.reports import totals as running
from claims.settings import load_settings
from tests.payouts.test_pipeline import land_claims, run
from tests.reports.helpers import land_answers, report_rows
from tests.sqlite_plans import captured_plans, history_scans

DAY = date(2025, 9, 1)
NEXT = DAY + timedelta(days=1)
BATCH = "PO20250901110000001"
#: Tables that grow with every day (declarations, a few hundred rows a month, do not).
HISTORY = ("claim_version", "decision", "claim_order", "payout_item", "payout_batch", "payout_exception",
           "ledger_transaction", "ledger_posting", "bank_return", "bank_return_result", "order_stats",
           "awaiting_confirmation", "landing_file", "determination")


def _two_days(root: Path) -> None:
    land_claims(root, DAY, 3)
    run(DAY)
    report_day(DAY)
    land_answers(root, NEXT, [(BATCH, f"{BATCH}0001", "settled"), (BATCH, f"{BATCH}0002", "failed")])
    run(NEXT)


def test_the_finance_csvs_are_the_closed_days_figures_and_add_up_to_the_reconciliation(ledger_env: Path) -> None:
    _two_days(ledger_env)
    report_day(NEXT)
    assert report_rows(ledger_env, DAY, "finance_summary.csv") == [{
        "province_code": "110000", "platform_code": "didi", "items": "3", "amount_fen": "135000",
        "repaid_items": "0", "returned_items": "0", "returned_fen": "0", "settled_items": "0", "settled_fen": "0"}]
    assert report_rows(ledger_env, NEXT, "finance_summary.csv") == [{
        "province_code": "110000", "platform_code": "didi", "items": "0", "amount_fen": "0",
        "repaid_items": "0", "returned_items": "1", "returned_fen": "45000", "settled_items": "1",
        "settled_fen": "45000"}]
    assert [(r["end_to_end_id"][-4:], r["status"], r["result_code"])
            for r in report_rows(ledger_env, NEXT, "bank_returns.csv")] == [
        ("0001", "settled", "RETURN_SETTLED"), ("0002", "failed", "RETURN_FAILED_REVERSED")]
    days = [report_rows(ledger_env, day, "finance_summary.csv") for day in (DAY, NEXT)]
    line = report_rows(ledger_env, NEXT, "payout_reconciliation.csv")[0]
    for total, column in (("paid_fen", "amount_fen"), ("returned_fen", "returned_fen"),
                          ("settled_fen", "settled_fen")):
        assert int(line[total]) == sum(int(row[column]) for rows in days for row in rows)
    with Session(engine_for(load_settings().database_url)) as session:
        assert running.stale_days(session, NEXT) == []


def test_a_closed_day_whose_detail_changed_is_found_and_fails_the_tie_out(ledger_env: Path) -> None:
    _two_days(ledger_env)
    report_day(NEXT)
    engine = engine_for(load_settings().database_url)
    with Session(engine) as session, session.begin():  # an old posting altered in place (never done by the code)
        transaction = session.execute(select(LedgerTransaction.id).where(
            LedgerTransaction.reference == f"item:{BATCH}0003")).scalar_one()
        for posting in session.execute(select(LedgerPosting).where(
                LedgerPosting.transaction_id == transaction)).scalars():
            posting.amount_fen += 100 if posting.amount_fen > 0 else -100
    with Session(engine) as session:
        assert running.stale_days(session, NEXT) == [DAY]  # the SQL recomputation names the day
    # A report whose rotating check reaches DAY closes it again from the detail: the
    # balances no longer tie, and the full pass lists the item behind the difference.
    later = DAY + timedelta(days=running.ROTATION_DAYS)
    with pytest.raises(PayoutTieOutError):
        report_day(later)
    assert report_rows(ledger_env, later, "payout_reconciliation.csv")[0]["status"] == "differs"
    assert [(r["claim_id"], r["kind"], r["amount_fen"]) for r in report_rows(ledger_env, later, "payout_exceptions.csv")
            if r["kind"] == "ledger_amount_differs"] == [("C2", "ledger_amount_differs", "100")]
    with Session(engine) as session:
        assert running.stale_days(session, later) == []


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_a_day_s_report_reads_the_history_only_through_bounded_windows(ledger_env: Path) -> None:
    _two_days(ledger_env)
    with captured_plans(engine_for(load_settings().database_url)) as plans:
        report_day(NEXT)
    assert len(plans) >= 20
    assert history_scans(plans, HISTORY, windows=True) == []
    assert history_scans({"SELECT x FROM decision": ["SCAN decision"]}, HISTORY, windows=True)  # it can fail


def test_a_past_month_of_the_trends_is_kept_as_it_stood_at_its_end(ledger_env: Path) -> None:
    import json

    from claims.ledger.models import ReportTrendMonth
    from claims.reports.province import month_rows
    from claims.reports.snapshot import load_snapshot
    from claims.store import open_store

    august = date(2025, 8, 20)
    land_claims(ledger_env, august, 6)
    run(august)
    report_day(DAY)
    settings = load_settings()
    engine = engine_for(settings.database_url)
    with Session(engine) as session:
        kept = json.loads(session.execute(select(ReportTrendMonth.body).where(
            ReportTrendMonth.month == "2025-08")).scalar_one())
    month_end = date(2025, 8, 31)
    fresh = month_rows(load_snapshot(engine, month_end, open_store(settings.lake_url), date(2025, 8, 1)),
                       date(2025, 8, 1), month_end)
    assert kept == json.loads(json.dumps(fresh))
    assert "claims_filed" in str(kept["110000"]["suppressed"])  # six claims of one worker
    html = (ledger_env / "outbox" / "reports" / f"date={DAY}" / "province=110000.html").read_text("utf-8")
    assert "2025-08" in html


def test_a_closing_stores_the_fingerprint_its_checks_compute(ledger_env: Path) -> None:
    from claims.ledger.models import ReportDayClose

    _two_days(ledger_env)
    report_day(NEXT)
    with Session(engine_for(load_settings().database_url)) as session:
        stored = {day: print_ for day, print_ in session.execute(
            select(ReportDayClose.business_day, ReportDayClose.fingerprint))}
        assert set(stored) == {DAY, NEXT}
        assert stored == {day: running.fingerprint(session, day) for day in stored}


def test_the_rotation_checks_a_fixed_number_of_old_days_and_each_once_a_period() -> None:
    first = date(2024, 1, 1)
    for days in (10, 40, 100, 400, 1500):
        day = first + timedelta(days=days)
        recheck_from = day - timedelta(days=running.RECHECK_DAYS)
        period = running.rotation_period(first, recheck_from)
        old = [first + timedelta(days=k) for k in range((recheck_from - first).days)]
        checked = [d for d in old if (day - d).days % period == 0]
        assert len(checked) <= running.ROTATION_CHECKS, days
        # over one period of reports, every old day is checked
        seen = {d for later in range(period) for d in old
                if (day + timedelta(days=later) - d).days % period == 0}
        assert seen == set(old), days


def test_rows_added_to_an_old_closed_day_close_it_again(ledger_env: Path) -> None:
    """A re-run of a day long closed (outside the recent days and the rotation) adds
    rows stamped with that day: the next report closes the day again from them."""
    from datetime import UTC, datetime

    _two_days(ledger_env)
    later = DAY + timedelta(days=running.RECHECK_DAYS + 3)
    report_day(later)
    engine = engine_for(load_settings().database_url)
    with Session(engine) as session, session.begin():  # an approval posted on DAY without its record
        session.add(LedgerTransaction(id=10_000, business_day=DAY, kind="approve", reference="decision:999",
                                      platform_code="didi", claim_id="C9", created_at=datetime(2025, 9, 1, tzinfo=UTC)))
        session.flush()
        session.add_all([LedgerPosting(transaction_id=10_000, account="benefit_expense:110000", amount_fen=700),
                         LedgerPosting(transaction_id=10_000, account="benefits_payable:110000", amount_fen=-700)])
    with pytest.raises(PayoutTieOutError):
        report_day(later + timedelta(days=1))
    line = report_rows(ledger_env, later + timedelta(days=1), "payout_reconciliation.csv")[0]
    assert (line["status"], int(line["ledger_payable_fen"]) - int(line["owed_fen"])) == ("differs", 700)
