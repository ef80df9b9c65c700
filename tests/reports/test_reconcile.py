"""Reconciliation on constructed ledgers (SQLite and PostgreSQL): each planted
discrepancy is found, and only those; a payout tie-out that does not hold fails
the reports after the files are written; a re-run writes the same bytes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from claims.ingest import ingest_source
from claims.ledger.db import engine_for
from claims.ledger.models import LedgerPosting, LedgerTransaction
from claims.reports import PayoutTieOutError, report_day
from claims.reports.reconcile import EXCEPTION_COLUMNS, PAYOUT_COLUMNS, PREMIUM_COLUMNS
from claims.settings import load_settings
from tests.payouts.test_pipeline import land_claims, run
from tests.reports.helpers import land_answers, land_day, land_declarations, report_files, report_rows

DAY = date(2025, 9, 1)
NEXT = DAY + timedelta(days=1)
BATCH = "PO20250901110000001"


def test_a_clean_day_ties_out_and_a_re_run_writes_the_same_bytes(ledger_env: Path) -> None:
    land_claims(ledger_env, DAY, 3)
    run(DAY)
    result = report_day(DAY)
    assert result["payouts_tie_out"] is True and result["payout_exceptions"] == 0
    files = report_files(ledger_env, DAY)
    header = {name: files[name].decode().splitlines()[0].split(",") for name in
              ("premium_reconciliation.csv", "payout_reconciliation.csv", "payout_exceptions.csv")}
    assert header["premium_reconciliation.csv"] == PREMIUM_COLUMNS
    assert header["payout_reconciliation.csv"][:11] == [  # CONTRACT.md's columns, then additions
        "province_code", "approved_fen", "paid_fen", "returned_fen", "settled_fen", "in_transit_fen", "owed_fen",
        "ledger_payable_fen", "ledger_in_transit_fen", "ledger_bank_fen", "status"] == PAYOUT_COLUMNS[:11]
    assert header["payout_exceptions.csv"] == EXCEPTION_COLUMNS
    assert report_rows(ledger_env, DAY, "payout_reconciliation.csv") == [{
        "province_code": "110000", "approved_fen": "135000", "paid_fen": "135000", "returned_fen": "0",
        "settled_fen": "0", "in_transit_fen": "135000", "owed_fen": "0", "ledger_payable_fen": "0",
        "ledger_in_transit_fen": "135000", "ledger_bank_fen": "0", "status": "ties", "awaiting_release_fen": "0"}]
    assert report_rows(ledger_env, DAY, "payout_exceptions.csv") == []

    run(DAY)
    report_day(DAY)
    assert report_files(ledger_env, DAY) == files  # byte-identical
    land_day(ledger_env, NEXT, "didi", "110000", [50], claims=[50], tag="n")
    run(NEXT)
    report_day(NEXT)
    report_day(DAY)  # an old day rendered again after a later one: the same bytes
    assert report_files(ledger_env, DAY) == files


def test_bank_answers_returned_not_repaid_unknown_and_too_long_in_transit(
        ledger_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    land_claims(ledger_env, DAY, 3)
    run(DAY)
    land_answers(ledger_env, NEXT, [(BATCH, f"{BATCH}0001", "settled"), (BATCH, f"{BATCH}0002", "failed"),
                                    (BATCH, "PO202509011100000019999", "settled")])
    run(NEXT)
    report_day(NEXT)
    lines = report_rows(ledger_env, NEXT, "payout_reconciliation.csv")
    assert [(r["paid_fen"], r["returned_fen"], r["settled_fen"], r["in_transit_fen"], r["owed_fen"], r["status"])
            for r in lines] == [("135000", "45000", "45000", "45000", "45000", "ties")]
    assert report_rows(ledger_env, NEXT, "payout_exceptions.csv") == [
        {"province_code": "110000", "claim_id": "", "platform_code": "", "kind": "unknown_bank_answer",
         "amount_fen": "", "since": NEXT.isoformat()},
        {"province_code": "110000", "claim_id": "C1", "platform_code": "didi", "kind": "returned_not_repaid",
         "amount_fen": "45000", "since": NEXT.isoformat()},
    ]
    # Six days after the payment, the item without an answer has been in transit too long
    # (CLAIMS_IN_TRANSIT_ALERT_DAYS, default 5); the unknown answer was the day's finding only.
    later = DAY + timedelta(days=6)
    report_day(later)
    assert [(r["claim_id"], r["kind"], r["since"]) for r in report_rows(ledger_env, later, "payout_exceptions.csv")] \
        == [("C1", "returned_not_repaid", NEXT.isoformat()), ("C2", "in_transit_too_long", DAY.isoformat())]
    monkeypatch.setenv("CLAIMS_IN_TRANSIT_ALERT_DAYS", "6")
    report_day(later)
    assert [r["kind"] for r in report_rows(ledger_env, later, "payout_exceptions.csv")] == ["returned_not_repaid"]


def test_an_item_paid_but_missing_from_the_ledger_fails_the_reports_after_writing_them(ledger_env: Path) -> None:
    land_claims(ledger_env, DAY, 2)
    run(DAY)
    with Session(engine_for(load_settings().database_url)) as session, session.begin():
        missing = session.execute(select(LedgerTransaction.id).where(
            LedgerTransaction.reference == f"item:{BATCH}0001")).scalar_one()
        session.execute(delete(LedgerPosting).where(LedgerPosting.transaction_id == missing))
        session.execute(delete(LedgerTransaction).where(LedgerTransaction.id == missing))
    with pytest.raises(PayoutTieOutError, match="110000"):
        report_day(DAY)
    line = report_rows(ledger_env, DAY, "payout_reconciliation.csv")[0]
    assert (line["owed_fen"], line["ledger_payable_fen"], line["in_transit_fen"], line["ledger_in_transit_fen"],
            line["status"]) == ("0", "45000", "90000", "45000", "differs")
    assert report_rows(ledger_env, DAY, "payout_exceptions.csv") == [
        {"province_code": "110000", "claim_id": "C0", "platform_code": "didi", "kind": "payment_not_in_ledger",
         "amount_fen": "45000", "since": DAY.isoformat()}]
    assert "不平衡" in (ledger_env / "outbox" / "reports" / f"date={DAY}" / "finance.html").read_text("utf-8")


def test_an_approval_missing_from_the_ledger_is_listed(ledger_env: Path) -> None:
    land_claims(ledger_env, DAY, 1)
    run(DAY)
    with Session(engine_for(load_settings().database_url)) as session, session.begin():
        approval = session.execute(select(LedgerTransaction.id).where(LedgerTransaction.kind == "approve")).scalar_one()
        session.execute(delete(LedgerPosting).where(LedgerPosting.transaction_id == approval))
    with pytest.raises(PayoutTieOutError):
        report_day(DAY)
    assert [(r["claim_id"], r["kind"], r["amount_fen"]) for r in report_rows(ledger_env, DAY, "payout_exceptions.csv")] \
        == [("C0", "ledger_amount_differs", "-45000")]


def test_premium_reconciliation_finds_each_planted_difference_and_only_those(ledger_env: Path) -> None:
    # (platform, province): what is loaded, and what the platform declares
    land_day(ledger_env, DAY, "didi", "110000", [1, 2, 3])  # declared exactly: ties
    land_day(ledger_env, DAY, "didi", "310000", [4, 5])  # declared 4 orders: two orders missing from the loads
    land_day(ledger_env, DAY, "meituan", "110000", [6])  # at the rate (25 fen)
    land_day(ledger_env, DAY, "meituan", "110000", [7], premium="20", tag="m")  # a rate mismatch
    land_day(ledger_env, DAY, "eleme", "310000", [8])  # declaration off by orders and by premium
    land_day(ledger_env, DAY, "caocao", "110000", [9])  # no declaration yet: open
    land_declarations(ledger_env, "didi", "2025-09", [
        {"platform_code": "didi", "province_code": "110000", "industry": "ride_hailing", "month": "2025-09",
         "order_count": "3", "premium_fen": "3"},
        {"platform_code": "didi", "province_code": "310000", "industry": "ride_hailing", "month": "2025-09",
         "order_count": "4", "premium_fen": "4"}])
    land_declarations(ledger_env, "meituan", "2025-09", [
        {"platform_code": "meituan", "province_code": "110000", "industry": "instant_delivery", "month": "2025-09",
         "order_count": "2", "premium_fen": "45"}])
    land_declarations(ledger_env, "eleme", "2025-09", [
        {"platform_code": "eleme", "province_code": "310000", "industry": "instant_delivery", "month": "2025-09",
         "order_count": "2", "premium_fen": "60"}])
    land_declarations(ledger_env, "huolala", "2025-08", [  # the month before: declared, nothing loaded
        {"platform_code": "huolala", "province_code": "110000", "industry": "freight", "month": "2025-08",
         "order_count": "5", "premium_fen": "90"}])
    run(DAY)
    ingest_source("declarations", DAY)
    result = report_day(DAY)
    rows = report_rows(ledger_env, DAY, "premium_reconciliation.csv")
    assert [[r[c] for c in PREMIUM_COLUMNS] for r in rows] == [
        ["2025-08", "huolala", "110000", "freight", "0", "0", "0", "0", "0", "5", "90", "5", "90", "differs"],
        ["2025-09", "caocao", "110000", "ride_hailing", "1", "0", "1", "1", "0", "", "", "", "", "open"],
        ["2025-09", "didi", "110000", "ride_hailing", "3", "0", "3", "3", "0", "3", "3", "0", "0", "ties"],
        ["2025-09", "didi", "310000", "ride_hailing", "2", "0", "2", "2", "0", "4", "4", "2", "2", "differs"],
        ["2025-09", "eleme", "310000", "instant_delivery", "1", "0", "25", "25", "0", "2", "60", "1", "35", "differs"],
        ["2025-09", "meituan", "110000", "instant_delivery", "2", "0", "45", "50", "1", "2", "45", "0", "0", "ties"],
    ]
    assert result["payouts_tie_out"] is True  # a premium difference is a finding, not a failure
    assert result["premium_lines_differing"] == 4


def test_an_amended_declaration_counts_from_the_day_it_is_loaded_and_a_re_delivery_loads_nothing(
        ledger_env: Path) -> None:
    from claims.ledger.models import Declaration

    def declared(orders: str, premium: str) -> list[dict[str, str]]:
        return [{"platform_code": "didi", "province_code": "110000", "industry": "ride_hailing", "month": "2025-09",
                 "order_count": orders, "premium_fen": premium}]

    land_day(ledger_env, DAY, "didi", "110000", [1, 2, 3])
    land_declarations(ledger_env, "didi", "2025-09", declared("4", "4"))
    run(DAY)
    assert ingest_source("declarations", DAY)["rows_loaded"] == 1
    report_day(DAY)
    before = report_files(ledger_env, DAY)
    land_declarations(ledger_env, "didi", "2025-09", declared("3", "3"), name="decl-amended.csv")
    amended = ingest_source("declarations", NEXT)
    assert (amended["rows_loaded"], amended["rows_rejected"]) == (1, 0)  # a new version, not DUPLICATE_KEY
    report_day(NEXT)
    report_day(DAY)  # the old day is not rewritten by the later amendment
    assert report_files(ledger_env, DAY) == before
    figures = [(r["declared_orders"], r["declared_premium_fen"], r["orders_difference"], r["status"])
               for r in report_rows(ledger_env, DAY, "premium_reconciliation.csv")]
    assert figures == [("4", "4", "1", "differs")]
    figures = [(r["declared_orders"], r["declared_premium_fen"], r["orders_difference"], r["status"])
               for r in report_rows(ledger_env, NEXT, "premium_reconciliation.csv")]
    assert figures == [("3", "3", "0", "ties")]
    # the same bytes again, and the first version's bytes under a new name: nothing loads
    land_declarations(ledger_env, "didi", "2025-09", declared("3", "3"), name="decl-again.csv")
    later = NEXT + timedelta(days=1)
    assert ingest_source("declarations", later)["rows_loaded"] == 0
    folder = ledger_env / "landing" / "declarations" / "platform=didi" / "month=2025-09"
    (folder / "decl-reordered.csv").write_text(  # other bytes (columns in another order), the current version's row
        "month,premium_fen,order_count,industry,province_code,platform_code\n2025-09,3,3,ride_hailing,110000,didi\n",
        encoding="utf-8")
    again = ingest_source("declarations", later + timedelta(days=1))
    assert (again["rows_loaded"], again["rows_unchanged"], again["rows_rejected"]) == (0, 1, 0)
    with Session(engine_for(load_settings().database_url)) as session:
        versions = session.execute(select(Declaration.order_count).order_by(Declaration.id)).scalars().all()
    assert versions == [4, 3]  # the history is kept


def test_orders_loaded_by_a_later_run_show_in_that_day_s_report_only(ledger_env: Path) -> None:
    land_day(ledger_env, DAY, "didi", "110000", [1, 2])
    run(DAY)
    report_day(DAY)
    before = report_files(ledger_env, DAY)
    land_day(ledger_env, DAY, "didi", "110000", [3], tag="late")  # a late file in D's partition
    run(NEXT)
    report_day(NEXT)
    report_day(DAY)
    assert report_files(ledger_env, DAY) == before
    assert [r["orders"] for r in report_rows(ledger_env, NEXT, "premium_reconciliation.csv")] == ["3"]
    assert [r["orders"] for r in report_rows(ledger_env, DAY, "premium_reconciliation.csv")] == ["2"]


def test_a_raise_and_a_cut_after_payment_tie_out(ledger_env: Path) -> None:
    """A determination after payment moves the approved total up (C0: paid the
    difference) or down (C1: overpaid, the ledger's payable goes negative): both tie out."""
    from tests import factories as f
    from tests.ingest.test_pipeline import determination_csv, drop, drop_feed

    land_claims(ledger_env, DAY, 2, cost="45000")
    run(DAY)
    base = {"incident_at": f"{DAY}T12:20:00+08:00", "reported_at": f"{DAY}T12:45:00+08:00"}
    drop(ledger_env, "claims", "didi", NEXT, "amended.csv", f.csv_text([  # amended after payment: standard review
        f.claim(claim_id="C0", order_id="O0", medical_cost_fen="60000", payee_account=f.card_number(f"62220{0:013d}"),
                **base),
        f.claim(claim_id="C1", order_id="O1", medical_cost_fen="30000", payee_account=f.card_number(f"62220{1:013d}"),
                **base)]).encode())
    run(NEXT)
    review = NEXT + timedelta(days=1)
    drop_feed(ledger_env, "determinations", review, "d.csv", determination_csv([
        {"claim_id": claim, "platform_code": "didi", "decision": "approved", "approved_amount_fen": amount,
         "reason": "", "decided_at": f"{review}T10:00:00+08:00", "decided_by": "HRSS"}
        for claim, amount in (("C0", "60000"), ("C1", "30000"))]))
    run(review)
    result = report_day(review)
    assert result["payouts_tie_out"] is True
    line = report_rows(ledger_env, review, "payout_reconciliation.csv")[0]
    assert (line["approved_fen"], line["paid_fen"], line["owed_fen"], line["ledger_payable_fen"], line["status"]) == \
        ("90000", "105000", "-15000", "-15000", "ties")
    assert report_rows(ledger_env, review, "payout_exceptions.csv") == []


def test_differences_that_offset_each_other_still_fail_the_tie_out(ledger_env: Path) -> None:
    land_claims(ledger_env, DAY, 2)
    run(DAY)
    with Session(engine_for(load_settings().database_url)) as session, session.begin():
        for suffix, shift in (("0001", 100), ("0002", -100)):  # 1 yuan moved from one item's posting to another's
            transaction = session.execute(select(LedgerTransaction.id).where(
                LedgerTransaction.reference == f"item:{BATCH}{suffix}")).scalar_one()
            for posting in session.execute(select(LedgerPosting).where(
                    LedgerPosting.transaction_id == transaction)).scalars():
                posting.amount_fen += shift if posting.amount_fen > 0 else -shift
    with pytest.raises(PayoutTieOutError):
        report_day(DAY)
    assert report_rows(ledger_env, DAY, "payout_reconciliation.csv")[0]["status"] == "ties"  # the balances agree
    assert [(r["claim_id"], r["kind"], r["amount_fen"]) for r in report_rows(ledger_env, DAY, "payout_exceptions.csv")] \
        == [("C0", "ledger_amount_differs", "100"), ("C1", "ledger_amount_differs", "-100")]


def test_run_day_s_summary_line_reads_the_reports_summary(tmp_path: Path) -> None:
    import json
    from types import SimpleNamespace

    from claims.cli import _reports_line

    settings = SimpleNamespace(outbox_url=str(tmp_path))
    assert _reports_line(settings, DAY) == "  reports: not written"
    folder = tmp_path / "reports" / f"date={DAY}"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"payouts_tie_out": False, "differing_provinces": ["110000"],
                                                     "payout_exceptions": 2, "premium_lines_differing": 1}))
    assert _reports_line(settings, DAY) == ("  reports: payouts DO NOT tie out in 110000; 2 payout exception(s); "
                                            "1 premium line(s) differing or off the rate")


def test_a_ledger_transaction_of_the_day_without_its_record_is_listed(ledger_env: Path) -> None:
    """The day's transactions no record of the day calls for are found by count, then listed."""
    from datetime import UTC, datetime

    land_claims(ledger_env, DAY, 2)
    run(DAY)
    with Session(engine_for(load_settings().database_url)) as session, session.begin():
        stray = LedgerTransaction(business_day=DAY, kind="disburse", reference="item:PO20250901110000001ZZZZ",
                                  platform_code="didi", claim_id="C9", created_at=datetime.now(UTC))
        session.add(stray)
        session.flush()
        session.add_all([LedgerPosting(transaction_id=stray.id, account="benefit_expense:110000", amount_fen=700),
                         LedgerPosting(transaction_id=stray.id, account="benefit_expense:110000", amount_fen=-700)])
    with pytest.raises(PayoutTieOutError):
        report_day(DAY)
    assert report_rows(ledger_env, DAY, "payout_reconciliation.csv")[0]["status"] == "ties"  # the balances agree
    assert [(r["claim_id"], r["kind"], r["amount_fen"]) for r in report_rows(ledger_env, DAY, "payout_exceptions.csv")] \
        == [("C9", "ledger_entry_without_record", "700")]
