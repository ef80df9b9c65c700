"""Where the parts of the money path meet (issue 12): returns, amendments,
determinations, re-runs and late files over several days, on SQLite and
PostgreSQL. Each test is a sequence an independent review found paying wrongly
or halting, reproduced with the real pipeline."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.ingest.checks import BANK_RETURN_COLUMNS
from claims.ledger.db import engine_for
from claims.ledger.models import Decision, PayoutItem
from claims.payouts.ledger import balances
from claims.settings import load_settings
from tests import factories as f
from tests.ingest.test_pipeline import determination_csv, drop, drop_feed
from tests.payouts.test_pipeline import DAY, land_claims, run

BATCH = "PO20250901110000001"
BASE = {"order_id": "O0", "incident_at": "2025-09-01T12:20:00+08:00", "reported_at": "2025-09-01T12:45:00+08:00",
        "medical_cost_fen": "45000"}


@pytest.fixture
def env(ledger_env: Path) -> Path:
    return ledger_env


def decisions(root: Path, day: date) -> list[dict[str, str]]:
    path = root / "outbox" / "decisions" / f"date={day}" / "decisions.csv"
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def items() -> list[tuple]:
    with Session(engine_for(load_settings().database_url)) as session:
        return [tuple(row) for row in session.execute(
            select(PayoutItem.claim_id, PayoutItem.business_day, PayoutItem.amount_fen, PayoutItem.returned_on)
            .order_by(PayoutItem.id))]


def money() -> dict[str, int]:
    with Session(engine_for(load_settings().database_url)) as session:
        return balances(session)


def bank_answer(root: Path, day: date, end_to_end_id: str, status: str) -> None:
    drop_feed(root, "bank_returns", day, f"bank-{day}.csv", f.csv_text([{
        "batch_id": end_to_end_id[:-4], "end_to_end_id": end_to_end_id, "status": status,
        "failure_code": "AC04" if status == "failed" else "", "failure_reason": "closed" if status == "failed" else "",
        "processed_at": f"{day}T09:00:00+08:00"}], BANK_RETURN_COLUMNS).encode())


def determine(root: Path, day: date, claim_id: str, decision: str, amount: str = "") -> None:
    drop_feed(root, "determinations", day, f"hrss-{day}.csv", determination_csv([{
        "claim_id": claim_id, "platform_code": "didi", "decision": decision, "approved_amount_fen": amount,
        "reason": "", "decided_at": f"{day}T10:00:00+08:00", "decided_by": "HRSS"}]))


def amend(root: Path, day: date, name: str, **changes: str) -> None:
    drop(root, "claims", "didi", day, name, f.csv_text([f.claim(claim_id="C0", **dict(BASE, **changes))]).encode())


def test_a_claim_rejected_after_a_return_is_never_paid_again(env: Path) -> None:
    """Paid on D1, returned on D2, amended (disputed) on D3, rejected by HRSS on D4,
    a new payee account on D5: nothing more is paid, and the rejection stands."""
    d1, d2, d3, d4, d5 = (DAY + timedelta(days=n) for n in range(5))
    land_claims(env, d1, 1)
    run(d1)
    bank_answer(env, d2, f"{BATCH}0001", "failed")
    run(d2)
    amend(env, d3, "disputed.csv", payee_account=f.card_number(f"62220{0:013d}"), liability_disputed="true")
    run(d3)
    assert [(r["outcome"], r["reason_codes"]) for r in decisions(env, d3)] == [
        ("standard_review", "AMENDED_AFTER_PAYMENT")]
    determine(env, d4, "C0", "rejected")
    run(d4)
    assert [(r["outcome"], r["reason_codes"]) for r in decisions(env, d4)] == [
        ("rejected", "REJECTED_BY_DETERMINATION")]
    amend(env, d5, "new-account.csv", payee_account=f.card_number("62220777777777777"), liability_disputed="true")
    result = run(d5)
    assert result["items"] == 0
    assert decisions(env, d5) == []  # a payee change does not reopen a rejected claim's review
    assert items() == [("C0", d1, 45000, d2)]
    ledger = money()
    # the rejection withdraws the approval: nothing is owed, nothing is in transit
    assert ledger["benefits_payable:110000"] == 0 and ledger["in_transit:110000"] == 0
    assert ledger["benefit_expense:110000"] == 0


def test_a_returned_claim_under_review_is_paid_again_only_once_approved(env: Path) -> None:
    """A return, then an amendment of the facts (review) and of the payee: no
    re-payment while under review; the determination's approval pays it, once,
    to the new account."""
    d1, d2, d3, d4 = (DAY + timedelta(days=n) for n in range(4))
    land_claims(env, d1, 1)
    run(d1)
    bank_answer(env, d2, f"{BATCH}0001", "failed")
    run(d2)
    new_account = f.card_number("62220777777777777")
    amend(env, d3, "amended.csv", payee_account=new_account, medical_cost_fen="50000")
    assert run(d3)["items"] == 0
    determine(env, d4, "C0", "approved", "50000")
    result = run(d4)
    assert (result["items"], result["total_fen"]) == (1, 50000)
    assert run(d4 + timedelta(days=1))["items"] == 0
    assert [row[2] for row in items()] == [45000, 50000]


def test_an_amendment_loaded_by_a_re_run_of_its_own_day_is_decided_by_that_run(env: Path) -> None:
    """A late file in D's partition, picked up by a re-run of D, is decided by the
    re-run (and paid by the next day, since D's payouts are published)."""
    land_claims(env, DAY, 1)
    run(DAY)
    assert [r["outcome"] for r in decisions(env, DAY)] == ["fast_track"]
    drop(env, "claims", "didi", DAY, "late-amendment.csv", f.csv_text([f.claim(
        claim_id="C0", **dict(BASE, treatment="inpatient", inpatient_days="3"),
        payee_account=f.card_number(f"62220{0:013d}"))]).encode())
    run(DAY)
    assert [(r["outcome"], r["reason_codes"]) for r in decisions(env, DAY)] == [
        ("fast_track", ""), ("standard_review", "AMENDED_AFTER_PAYMENT")]
    with Session(engine_for(load_settings().database_url)) as session:
        assert session.query(Decision).count() == 2
    run(DAY)  # a third run: nothing new
    with Session(engine_for(load_settings().database_url)) as session:
        assert session.query(Decision).count() == 2


def test_an_unpaid_claim_amended_on_a_re_run_is_paid_at_its_new_amount(env: Path) -> None:
    """Decided on a re-run of a published day (so paid the next day), then amended
    by a late file of the same day: the next day pays the amended amount, not the
    first one."""
    run(DAY)  # D published without payouts
    land_claims(env, DAY, 1)
    run(DAY)  # the re-run decides C0 (fast track 45,000); the next day pays it
    amend(env, DAY, "late-amendment.csv", payee_account=f.card_number(f"62220{0:013d}"), medical_cost_fen="30000")
    run(DAY)
    result = run(DAY + timedelta(days=1))
    assert (result["items"], result["total_fen"]) == (1, 30000)


# -- what cannot be paid is held, everything else is paid (issue 12, items 5, 7, 8) ---------------


def holds(root: Path, day: date) -> list[dict[str, str]]:
    path = root / "outbox" / "reports" / f"date={day}" / "payout_holds.csv"
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def paid_claims(root: Path, day: date) -> list[str]:
    files = sorted((root / "outbox" / "payouts" / f"date={day}").rglob("*.csv"))
    return sorted(row["claim_id"] for path in files for row in csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def test_an_item_above_the_ceiling_is_held_and_the_rest_of_the_day_is_paid(env: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMS_MAX_ITEM_FEN", "40000")
    land_claims(env, DAY, 1)  # C0: 45,000 fen
    drop(env, "orders", "didi", DAY, "small-order.csv", f.csv_text([f.order(
        order_id="S1", accepted_at=f"{DAY}T12:00:00+08:00", completed_at=f"{DAY}T12:40:00+08:00")]).encode())
    drop(env, "claims", "didi", DAY, "small.csv", f.csv_text([f.claim(
        claim_id="S1", order_id="S1", medical_cost_fen="30000", incident_at=f"{DAY}T12:20:00+08:00",
        reported_at=f"{DAY}T12:45:00+08:00")]).encode())
    result = run(DAY)
    assert (result["items"], result["total_fen"], result["held"]) == (1, 30000, {"PAYOUT_OVER_ITEM_CEILING": 1})
    assert paid_claims(env, DAY) == ["S1"]
    assert [(h["claim_id"], h["amount_fen"], h["reason_code"]) for h in holds(env, DAY)] == [
        ("C0", "45000", "PAYOUT_OVER_ITEM_CEILING")]
    from claims.summary import day_summary

    summary = day_summary(engine_for(load_settings().database_url), DAY, [], [])
    assert "PAYOUT EXCEPTIONS: 1 owed item(s)" in summary and "PAYOUT_OVER_ITEM_CEILING" in summary
    from claims.reports import report_day

    report_day(DAY)
    exceptions = list(csv.DictReader(io.StringIO(
        (env / "outbox" / "reports" / f"date={DAY}" / "payout_exceptions.csv").read_text("utf-8"))))
    assert [(e["claim_id"], e["kind"], e["amount_fen"], e["since"]) for e in exceptions] == [
        ("C0", "held_over_item_ceiling", "45000", DAY.isoformat())]
    monkeypatch.setenv("CLAIMS_MAX_ITEM_FEN", "100000")  # a person raised the ceiling: the next day pays it
    result = run(DAY + timedelta(days=1))
    assert (result["items"], result["total_fen"], result["held"]) == (1, 45000, {})


def _legacy_name(claim_id: str, name: str) -> None:
    """A name stored before ingestion refused such names (the ledger may hold them)."""
    from sqlalchemy import update

    from claims.ledger.models import ClaimVersion
    from claims.privacy import Cipher

    settings = load_settings()
    with Session(engine_for(settings.database_url)) as session, session.begin():
        session.execute(update(ClaimVersion).where(ClaimVersion.claim_id == claim_id).values(
            worker_name_enc=Cipher.from_ring(settings.encryption_keys).encrypt(name)))


@pytest.mark.parametrize("name", ["张\t三", "\u202e三张", "张" * 141])
def test_a_payee_a_bank_file_cannot_carry_is_held_and_everyone_else_is_paid(env: Path, name: str) -> None:
    land_claims(env, DAY, 3)
    for source in ("orders", "claims"):
        from claims.ingest import ingest_source

        ingest_source(source, DAY)
    _legacy_name("C1", name)
    result = run(DAY)
    assert (result["items"], result["held"]) == (2, {"PAYOUT_PAYEE_UNPAYABLE": 1})
    assert paid_claims(env, DAY) == ["C0", "C2"]
    assert [h["claim_id"] for h in holds(env, DAY)] == ["C1"]
    assert run(DAY)["files_written"] == 0  # a re-run verifies the published day


def _reference_copy(root: Path, agencies: str) -> Path:
    import shutil

    from claims.reference import DATA_DIR

    folder = root / "reference"
    shutil.copytree(DATA_DIR, folder)
    (folder / "paying_agencies.csv").write_text(agencies, "utf-8")
    return folder


AGENCY_HEADER = "province_code,agency_name,account,bank_code,effective_from,note\n"


def test_a_province_without_a_paying_agency_is_held_and_other_provinces_are_paid(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMS_REFERENCE_DIR", str(_reference_copy(env, AGENCY_HEADER + (
        "460000,海南省社会保险服务中心,9999460000000000001,999460000001,2022-07-01,\n"))))
    land_claims(env, DAY, 2)  # Beijing: no agency in this copy
    for name, province in (("orders", "460000"), ("claims", "460000")):
        rows = ([f.order(order_id="H1", province_code=province, city_code="460100",
                         accepted_at=f"{DAY}T12:00:00+08:00", completed_at=f"{DAY}T12:40:00+08:00")]
                if name == "orders" else
                [f.claim(claim_id="H1", order_id="H1", incident_province_code=province, incident_city_code="460100",
                         incident_at=f"{DAY}T12:20:00+08:00", reported_at=f"{DAY}T12:45:00+08:00")])
        drop(env, name, "didi", DAY, f"hainan-{name}.csv", f.csv_text(rows).encode())
    result = run(DAY)
    assert (result["items"], result["held"]) == (1, {"PAYOUT_NO_PAYING_AGENCY": 2})
    assert paid_claims(env, DAY) == ["H1"]


def test_the_agency_in_force_on_the_payout_day_is_the_debtor(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = "110000,北京市旧机构,9999110000000000001,999110000001,2022-07-01,\n"
    monkeypatch.setenv("CLAIMS_REFERENCE_DIR", str(_reference_copy(env, AGENCY_HEADER + old)))
    land_claims(env, DAY, 1)
    run(DAY)
    published = {p: p.read_bytes() for p in (env / "outbox" / "payouts").rglob("*") if p.is_file()}
    next_day = DAY + timedelta(days=1)
    # an administrator adds the agency that takes over from the next day
    (env / "reference" / "paying_agencies.csv").write_text(
        AGENCY_HEADER + old + "110000,北京市新机构,9999110000000000002,999110000002,2025-09-02,\n", "utf-8")
    drop(env, "orders", "didi", next_day, "orders.csv", f.csv_text([f.order(
        order_id="P0", accepted_at=f"{next_day}T12:00:00+08:00", completed_at=f"{next_day}T12:40:00+08:00")]).encode())
    drop(env, "claims", "didi", next_day, "claims.csv", f.csv_text([f.claim(
        claim_id="N0", order_id="P0", incident_at=f"{next_day}T12:20:00+08:00",
        reported_at=f"{next_day}T12:45:00+08:00")]).encode())
    assert run(next_day)["items"] == 1
    xml = next((env / "outbox" / "payouts" / f"date={next_day}").rglob("*.xml")).read_text("utf-8")
    assert "北京市新机构" in xml and "北京市旧机构" not in xml
    run(DAY)  # the earlier day, run again, is what it was
    assert {p: p.read_bytes() for p in (env / "outbox" / "payouts" / f"date={DAY}").rglob("*") if p.is_file()} == {
        p: b for p, b in published.items() if f"date={DAY}" in str(p)}
    assert "北京市旧机构" in next((env / "outbox" / "payouts" / f"date={DAY}").rglob("*.xml")).read_text("utf-8")


def test_a_claim_whose_order_never_arrived_is_held_when_approved(env: Path) -> None:
    """Standard review for want of the order, approved by HRSS: the paying province
    is the order's, unknown, so the item is held (not paid by the incident's
    province, and no KeyError stops the day)."""
    drop(env, "claims", "didi", DAY, "no-order.csv", f.csv_text([f.claim(
        claim_id="X1", order_id="NEVER", incident_at=f"{DAY}T12:20:00+08:00",
        reported_at=f"{DAY}T12:45:00+08:00")]).encode())
    for offset in range(8):
        run(DAY + timedelta(days=offset))
    review_day = DAY + timedelta(days=8)
    determine(env, review_day, "X1", "approved", "45000")
    land_claims(env, review_day, 1)
    result = run(review_day)
    assert (result["items"], result["held"]) == (1, {"PAYOUT_ORDER_UNKNOWN": 1})
    assert paid_claims(env, review_day) == ["C0"]


# -- version order in code points, whatever the database's collation (issue 12, item 9) ----------


def test_the_latest_version_names_the_payee_whatever_the_collation(any_collation_env: Path) -> None:
    """Two versions of a claim in one partition: 'a.csv' comes after 'B.csv' in code
    points (the contract's order) but before it in a natural-language collation."""
    env = any_collation_env
    drop(env, "orders", "didi", DAY, "orders.csv", f.csv_text([f.order(
        order_id="O0", accepted_at=f"{DAY}T12:00:00+08:00", completed_at=f"{DAY}T12:40:00+08:00")]).encode())
    older, newer = f.card_number("62220111111111111"), f.card_number("62220222222222222")
    for name, account in (("B.csv", older), ("a.csv", newer)):
        drop(env, "claims", "didi", DAY, name, f.csv_text([f.claim(claim_id="C0", **dict(BASE, payee_account=account))]
                                                          ).encode())
    assert run(DAY)["items"] == 1
    payout = next((env / "outbox" / "payouts" / f"date={DAY}").rglob("*.csv")).read_text("utf-8")
    assert newer in payout and older not in payout
