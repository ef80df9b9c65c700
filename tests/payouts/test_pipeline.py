"""Daily payouts over the ledger, on SQLite and PostgreSQL: every approved claim
paid exactly once, files that agree with each other and with the ledger, and
re-runs that verify instead of rewriting."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.adjudication import adjudicate_day
from claims.ingest import ingest_source, publish_day
from claims.ledger.db import engine_for
from claims.ledger.models import LedgerPosting, LedgerTransaction, PayoutItem, PayoutWork
from claims.payouts import pay_day
from claims.payouts.ledger import balances
from claims.payouts.pain001 import validate_pain001
from claims.payouts.pipeline import PublishedFileMismatch
from claims.reports import report_day
from claims.settings import load_settings
from tests import factories as f
from tests.ingest.test_pipeline import drop

DAY = date(2025, 9, 1)
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


@pytest.fixture
def env(ledger_env: Path) -> Path:
    return ledger_env


def run(day: date, **kwargs: object) -> dict:
    for source in ("orders", "claims", "determinations", "bank_returns"):
        ingest_source(source, day)
    publish_day(day)
    adjudicate_day(day)
    return pay_day(day, **kwargs)  # type: ignore[arg-type]


def land_claims(root: Path, day: date, count: int, province: str = "110000", cost: str = "45000") -> None:
    city = province[:2] + "0100"
    accepted = f"{day.isoformat()}T12:00:00+08:00"
    orders = [f.order(order_id=f"O{i}", province_code=province, city_code=city, accepted_at=accepted,
                      completed_at=f"{day.isoformat()}T12:40:00+08:00") for i in range(count)]
    claims = [f.claim(claim_id=f"C{i}", order_id=f"O{i}", medical_cost_fen=cost, incident_province_code=province,
                      incident_city_code=city,
                      incident_at=f"{day.isoformat()}T12:20:00+08:00", reported_at=f"{day.isoformat()}T12:45:00+08:00",
                      payee_account=f.card_number(f"62220{i:013d}"))
              for i in range(count)]
    drop(root, "orders", "didi", day, f"orders-{day}.csv", f.csv_text(orders).encode())
    drop(root, "claims", "didi", day, f"claims-{day}.csv", f.csv_text(claims).encode())


def work_list() -> list[str]:
    """The claims on the payout run's work list."""
    with Session(engine_for(load_settings().database_url)) as session:
        return sorted({claim for (claim,) in session.execute(select(PayoutWork.claim_id))})


def land_late_claim(root: Path) -> None:
    """A late file on DAY: claim C9 of 30,000 fen and its order."""
    late_order = f.order(order_id="O9", province_code="110000", city_code="110100",
                         accepted_at=f"{DAY}T12:00:00+08:00", completed_at=f"{DAY}T12:40:00+08:00")
    late_claim = f.claim(claim_id="C9", order_id="O9", medical_cost_fen="30000",
                         incident_at=f"{DAY}T12:20:00+08:00", reported_at=f"{DAY}T12:45:00+08:00",
                         payee_account=f.card_number("62220999999999999"))
    drop(root, "orders", "didi", DAY, "orders-late.csv", f.csv_text([late_order]).encode())
    drop(root, "claims", "didi", DAY, "claims-late.csv", f.csv_text([late_claim]).encode())


def outbox_files(root: Path, day: date) -> dict[str, bytes]:
    base = root / "outbox" / "payouts" / f"date={day.isoformat()}"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def test_a_day_is_paid_once_and_every_file_agrees_with_the_ledger(env: Path) -> None:
    land_claims(env, DAY, 3)
    first = run(DAY)
    assert (first["batches"], first["items"], first["total_fen"], first["released"]) == (1, 3, 135000, True)
    files = outbox_files(env, DAY)
    assert sorted(files) == ["manifest.json", "province=110000/PO20250901110000001.csv",
                             "province=110000/PO20250901110000001.xml"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["item_count"] == 3 and manifest["control_sum_fen"] == 135000
    csv_name = next(name for name in files if name.endswith(".csv"))
    xml_name = next(name for name in files if name.endswith(".xml"))
    rows = list(csv.DictReader(io.StringIO(files[csv_name].decode("utf-8"))))
    assert sum(int(r["amount_fen"]) for r in rows) == 135000 and {r["currency"] for r in rows} == {"CNY"}
    assert rows[0]["payee_name"] == "张三"  # the bank needs the name and the account
    validate_pain001(files[xml_name])
    root = ET.fromstring(files[xml_name])
    assert root.find("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", NS).text == "1350.00"
    assert root.find("p:CstmrCdtTrfInitn/p:PmtInf/p:CtrlSum", NS).text == "1350.00"
    assert root.find("p:CstmrCdtTrfInitn/p:PmtInf/p:ReqdExctnDt/p:Dt", NS).text == "2025-09-02"
    for entry in manifest["files"]:
        import hashlib

        assert hashlib.sha256(files[entry["path"].split(f"date={DAY.isoformat()}/")[1]]).hexdigest() == entry["sha256"]
    with Session(engine_for(load_settings().database_url)) as session:
        totals = session.execute(
            select(LedgerPosting.transaction_id, func.sum(LedgerPosting.amount_fen)).group_by(LedgerPosting.transaction_id)
        ).all()
        assert totals and all(total == 0 for _id, total in totals)
        assert balances(session)["in_transit:110000"] == -135000
        assert balances(session)["benefit_expense:110000"] == 135000

    again = run(DAY)
    assert (again["files_written"], again["files_verified"]) == (0, 3)
    assert outbox_files(env, DAY) == files


def test_a_day_without_payouts_still_publishes_its_manifest(env: Path) -> None:
    result = run(DAY)
    assert result["released"] and result["items"] == 0
    manifest = json.loads(outbox_files(env, DAY)["manifest.json"])
    assert manifest["files"] == [] and manifest["item_count"] == 0


def test_after_payment_an_amendment_goes_to_review_and_a_raise_pays_only_the_difference(env: Path) -> None:
    from tests.ingest.test_pipeline import determination_csv, drop_feed

    land_claims(env, DAY, 2, cost="45000")
    run(DAY)
    later = DAY + timedelta(days=1)
    base = {"claim_id": "C0", "order_id": "O0", "incident_at": "2025-09-01T12:20:00+08:00",
            "reported_at": "2025-09-01T12:45:00+08:00"}
    drop(env, "claims", "didi", later, "amended.csv", f.csv_text([
        f.claim(**base, medical_cost_fen="60000", payee_account=f.card_number(f"62220{0:013d}")),
        f.claim(**dict(base, claim_id="C1", order_id="O1"), medical_cost_fen="45000",
                payee_account=f.card_number("62220999999999999")),  # only the payee changed
    ]).encode())
    result = run(later)
    decided = {row["claim_id"]: row for row in csv.DictReader(io.StringIO(
        (env / "outbox" / "decisions" / f"date={later}" / "decisions.csv").read_text("utf-8")))}
    assert (decided["C0"]["outcome"], decided["C0"]["reason_codes"]) == ("standard_review", "AMENDED_AFTER_PAYMENT")
    assert "C1" not in decided  # a payee change acts by itself: no new decision
    assert result["items"] == 0  # nothing more is paid before the review
    review = later + timedelta(days=1)
    drop_feed(env, "determinations", review, "d.csv", determination_csv([
        {"claim_id": "C0", "platform_code": "didi", "decision": "approved", "approved_amount_fen": "60000",
         "reason": "", "decided_at": f"{review}T10:00:00+08:00", "decided_by": "HRSS"},
    ]))
    result = run(review)
    assert (result["items"], result["total_fen"]) == (1, 15000)
    with Session(engine_for(load_settings().database_url)) as session:
        items = session.execute(select(PayoutItem.claim_id, PayoutItem.instalment, PayoutItem.amount_fen)
                                .order_by(PayoutItem.id)).all()
    assert [tuple(item) for item in items] == [("C0", 1, 45000), ("C1", 1, 45000), ("C0", 2, 15000)]


def test_batches_hold_at_most_3000_items(env: Path) -> None:
    land_claims(env, DAY, 3001)
    result = run(DAY)
    assert (result["batches"], result["items"]) == (2, 3001)
    manifest = json.loads(outbox_files(env, DAY)["manifest.json"])
    assert sorted({e["item_count"] for e in manifest["files"]}) == [1, 3000]


def test_without_release_nothing_is_published_until_approved(env: Path) -> None:
    from claims.payouts import release_day

    land_claims(env, DAY, 2)
    held = run(DAY, auto_release=False)
    assert held["released"] is False and "manifest.json" not in outbox_files(env, DAY)
    with pytest.raises(PermissionError):
        release_day(DAY, approved_by="claims")  # the preparer cannot approve their own batches
    assert release_day(DAY, approved_by="finance-lead")["released"]
    manifest = json.loads(outbox_files(env, DAY)["manifest.json"])
    assert manifest["released_by"] == "finance-lead" and manifest["automatic_release"] is False


def test_a_published_file_that_changed_is_refused_not_rewritten(env: Path) -> None:
    land_claims(env, DAY, 1)
    run(DAY)
    csv_path = next((env / "outbox" / "payouts").rglob("*.csv"))
    csv_path.write_bytes(csv_path.read_bytes().replace(b"45000", b"95000"))
    with pytest.raises(PublishedFileMismatch):
        pay_day(DAY)
    assert b"95000" in csv_path.read_bytes()  # left as found, for people to look at


@pytest.mark.postgres
def test_two_processes_paying_the_same_day_pay_once(postgres_server: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_server)
    for name, value in {"CLAIMS_DATABASE_URL": postgres_server, "CLAIMS_LANDING_URL": str(tmp_path / "landing"),
                        "CLAIMS_OUTBOX_URL": str(tmp_path / "outbox"), "CLAIMS_LAKE_URL": str(tmp_path / "lake")}.items():
        monkeypatch.setenv(name, value)
    land_claims(tmp_path, DAY, 200)
    for source in ("orders", "claims"):
        ingest_source(source, DAY)
    adjudicate_day(DAY)
    code = "from datetime import date; from claims.payouts import pay_day; print(pay_day(date(2025, 9, 1)))"
    workers = [subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    with Session(engine_for(postgres_server)) as session:
        assert session.scalar(select(func.count()).select_from(PayoutItem)) == 200
        assert session.scalar(select(func.count()).select_from(LedgerTransaction).where(
            LedgerTransaction.kind == "disburse")) == 200


def test_bank_returns_settle_reverse_and_repay_only_to_an_amended_account(env: Path) -> None:
    from claims.ingest.checks import BANK_RETURN_COLUMNS
    from tests.ingest.test_pipeline import drop_feed

    land_claims(env, DAY, 2)
    run(DAY)
    assert work_list() == []  # both paid: the payout run's work list is empty
    next_day = DAY + timedelta(days=1)
    batch = "PO20250901110000001"
    answers = [
        {"batch_id": batch, "end_to_end_id": f"{batch}0001", "status": "settled", "failure_code": "",
         "failure_reason": "", "processed_at": f"{next_day}T09:00:00+08:00"},
        {"batch_id": batch, "end_to_end_id": f"{batch}0002", "status": "failed", "failure_code": "AC04",
         "failure_reason": "closed account", "processed_at": f"{next_day}T09:00:00+08:00"},
        {"batch_id": batch, "end_to_end_id": "PO202509019999990010001", "status": "settled", "failure_code": "",
         "failure_reason": "", "processed_at": f"{next_day}T09:00:00+08:00"},
    ]
    drop_feed(env, "bank_returns", next_day, "bank.csv", f.csv_text(answers, BANK_RETURN_COLUMNS).encode())
    result = run(next_day)
    assert result["items"] == 0  # the failed claim waits for an amended account
    report_day(next_day, check=False)  # bank_returns.csv is the reports stage's
    report = list(csv.DictReader(io.StringIO(
        (env / "outbox" / "reports" / f"date={next_day}" / "bank_returns.csv").read_text("utf-8"))))
    assert [(r["end_to_end_id"][-4:], r["result_code"]) for r in report] == [
        ("0001", "RETURN_SETTLED"), ("0002", "RETURN_FAILED_REVERSED"), ("0001", "RETURN_UNKNOWN_ITEM"),
    ]
    with Session(engine_for(load_settings().database_url)) as session:
        money = balances(session)
    assert money["in_transit:110000"] == 0 and money["bank:110000"] == -45000
    assert money["benefits_payable:110000"] == -45000  # owed again
    assert work_list() == ["C1"]  # listed by the return, and left listed while it waits

    amended_day = next_day + timedelta(days=1)
    amended = f.claim(claim_id="C1", order_id="O1", medical_cost_fen="45000", incident_at="2025-09-01T12:20:00+08:00",
                      reported_at="2025-09-01T12:45:00+08:00", payee_account=f.card_number("62220777777777777"))
    drop(env, "claims", "didi", amended_day, "new-account.csv", f.csv_text([amended]).encode())
    result = run(amended_day)
    assert (result["items"], result["total_fen"]) == (1, 45000)
    with Session(engine_for(load_settings().database_url)) as session:
        items = session.execute(select(PayoutItem.claim_id, PayoutItem.instalment, PayoutItem.returned_on)
                                .order_by(PayoutItem.id)).all()
        money = balances(session)
    assert [(c, i, r is not None) for c, i, r in items] == [("C0", 1, False), ("C1", 1, True), ("C1", 1, False)]
    assert money["in_transit:110000"] == -45000 and money["benefits_payable:110000"] == 0
    assert work_list() == []
    csv_text = next((env / "outbox" / "payouts" / f"date={amended_day}").rglob("*.csv")).read_text("utf-8")
    assert f.card_number("62220777777777777") in csv_text


def test_rerunning_an_old_day_after_later_days_changes_none_of_its_outputs(env: Path) -> None:
    land_claims(env, DAY, 2)
    run(DAY)
    outbox = env / "outbox"

    def outputs_of(day: date) -> dict[str, bytes]:
        return {p.relative_to(outbox).as_posix(): p.read_bytes() for p in sorted(outbox.rglob("*"))
                if p.is_file() and f"date={day.isoformat()}" in p.as_posix() and "/quality/" not in f"/{p.relative_to(outbox)}"}

    before = outputs_of(DAY)
    later = DAY + timedelta(days=1)
    more = [f.claim(claim_id="LATE-1", order_id="O0", incident_at="2025-09-01T12:20:00+08:00",
                    reported_at="2025-09-01T12:45:00+08:00", payee_account=f.card_number("62220555555555555"))]
    drop(env, "claims", "didi", later, "more.csv", f.csv_text(more).encode())
    run(later)
    with Session(engine_for(load_settings().database_url)) as session:
        items = session.scalar(select(func.count()).select_from(PayoutItem))
        transactions = session.scalar(select(func.count()).select_from(LedgerTransaction))
    run(DAY)  # the old day again
    assert outputs_of(DAY) == before
    with Session(engine_for(load_settings().database_url)) as session:
        assert session.scalar(select(func.count()).select_from(PayoutItem)) == items
        assert session.scalar(select(func.count()).select_from(LedgerTransaction)) == transactions


def test_the_ledger_has_one_balanced_approval_per_decision_and_one_disbursement_per_item(env: Path) -> None:
    """Posted in bulk: one 'approve' per payable decision (posted once, however often
    the day runs), one 'disburse' per item, each a debit and a credit of one amount
    in that order, in the claim's paying province."""
    from claims.ledger.models import Decision

    land_claims(env, DAY, 5, province="460000")
    run(DAY)
    run(DAY)
    run(DAY + timedelta(days=1))  # a later day: nothing new to approve or pay
    with Session(engine_for(load_settings().database_url)) as session:
        decisions = session.scalars(select(Decision.id).where(Decision.payable_fen.is_not(None))).all()
        items = session.scalars(select(PayoutItem.end_to_end_id)).all()
        transactions = session.execute(select(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.reference)
                                       .order_by(LedgerTransaction.id)).all()
        postings = session.execute(select(LedgerPosting.transaction_id, LedgerPosting.account, LedgerPosting.amount_fen)
                                   .order_by(LedgerPosting.id)).all()
    assert sorted(r for _i, k, r in transactions if k == "approve") == sorted(f"decision:{d}" for d in decisions)
    assert sorted(r for _i, k, r in transactions if k == "disburse") == sorted(f"item:{e}" for e in items)
    assert len(decisions) == len(items) == 5
    expected = {"approve": ["benefit_expense:460000", "benefits_payable:460000"],
                "disburse": ["benefits_payable:460000", "in_transit:460000"]}
    for transaction_id, kind, _reference in transactions:
        lines = [(account, fen) for tid, account, fen in postings if tid == transaction_id]
        assert [account for account, _fen in lines] == expected[kind]
        assert lines[0][1] == 45000 and lines[1][1] == -45000


def test_a_full_day_of_bank_answers_is_applied_once_each(env: Path) -> None:
    """The day after a payout the bank answers for every item: thousands of answers
    in one file, applied in bulk, each once, in processed order; a contradictory
    second answer for the same item and an answer naming another batch are
    reported, not applied; a re-run applies nothing again."""
    from claims.ingest.checks import BANK_RETURN_COLUMNS
    from tests.ingest.test_pipeline import drop_feed

    land_claims(env, DAY, 3100)
    assert run(DAY)["items"] == 3100
    with Session(engine_for(load_settings().database_url)) as session:
        items = session.execute(select(PayoutItem.batch_id, PayoutItem.end_to_end_id).order_by(PayoutItem.id)).all()
    assert len({batch for batch, _ in items}) == 2
    next_day = DAY + timedelta(days=1)

    def answer(batch: str, e2e: str, status: str, hour: int) -> dict[str, str]:
        return {"batch_id": batch, "end_to_end_id": e2e, "status": status,
                "failure_code": "AC04" if status == "failed" else "", "failure_reason": "",
                "processed_at": f"{next_day}T{hour:02d}:00:00+08:00"}

    failed = {e2e for _, e2e in items[::100]}  # 31 failures, the rest settled
    answers = [answer(batch, e2e, "failed" if e2e in failed else "settled", 9) for batch, e2e in items]
    first_batch, first_e2e = items[1]
    answers.append(answer(first_batch, first_e2e, "failed", 10))  # after its settlement: contradicts it
    answers.append(answer("PO20250901110000009", items[2][1], "failed", 8))  # names another batch
    drop_feed(env, "bank_returns", next_day, "bank.csv", f.csv_text(answers, BANK_RETURN_COLUMNS).encode())
    assert run(next_day)["items"] == 0  # nobody amended a failed account yet
    report_day(next_day, check=False)  # bank_returns.csv is the reports stage's
    report = list(csv.DictReader(io.StringIO(
        (env / "outbox" / "reports" / f"date={next_day}" / "bank_returns.csv").read_text("utf-8"))))
    codes = Counter(row["result_code"] for row in report)
    assert codes == {"RETURN_SETTLED": 3100 - len(failed), "RETURN_FAILED_REVERSED": len(failed),
                     "RETURN_ALREADY_FINAL": 1, "RETURN_BATCH_MISMATCH": 1}
    total = 3100 * 45000
    with Session(engine_for(load_settings().database_url)) as session:
        money = balances(session)
        returned = session.execute(select(func.count()).select_from(PayoutItem)
                                   .where(PayoutItem.returned_on.is_not(None))).scalar_one()
        settles = session.execute(select(func.count()).select_from(LedgerTransaction)
                                  .where(LedgerTransaction.kind == "settle")).scalar_one()
    assert (returned, settles) == (len(failed), 3100 - len(failed))
    assert money["in_transit:110000"] == 0
    assert money["bank:110000"] == -(total - len(failed) * 45000)
    assert money["benefits_payable:110000"] == -len(failed) * 45000  # owed again, to an amended account
    assert run(next_day)["items"] == 0
    with Session(engine_for(load_settings().database_url)) as session:
        assert balances(session) == money  # the re-run applied nothing twice


def test_a_claim_approved_on_a_re_run_of_a_paid_day_is_paid_the_next_day(env: Path) -> None:
    """A late file re-run on a day already paid: its claim is approved by that day's
    re-run (no new batch: published days are never changed) and stays on the work
    list until the next day pays it."""
    land_claims(env, DAY, 2)
    run(DAY)
    land_late_claim(env)
    before = outbox_files(env, DAY)
    result = run(DAY)
    assert (result["items"], outbox_files(env, DAY)) == (2, before)  # the day's batches and files unchanged
    assert work_list() == ["C9"]
    with Session(engine_for(load_settings().database_url)) as session:
        approvals = session.execute(select(func.count()).select_from(LedgerTransaction)
                                    .where(LedgerTransaction.kind == "approve")).scalar_one()
    assert approvals == 3  # approved by the re-run
    next_day = DAY + timedelta(days=1)
    result = run(next_day)
    assert (result["items"], result["total_fen"]) == (1, 30000)
    assert work_list() == []


def test_a_late_run_of_an_old_day_leaves_a_claim_with_later_decisions_listed(env: Path) -> None:
    """Day 2's payout task fails and is retried after days 3 and 4: by then C0 was
    amended, raised to 60,000 by a determination and paid the difference. The
    retry applies day 2's bank return (C0's payment failed) and judges C0 as of
    day 2; C0 must stay listed, so that day 5 pays what is still owed and the
    claim ends with exactly its approved amount live."""
    from claims.ingest.checks import BANK_RETURN_COLUMNS
    from tests.ingest.test_pipeline import determination_csv, drop_feed

    land_claims(env, DAY, 2)
    run(DAY)
    d2, d3, d4, d5 = (DAY + timedelta(days=n) for n in (1, 2, 3, 4))
    batch = "PO20250901110000001"
    drop_feed(env, "bank_returns", d2, "bank.csv", f.csv_text([
        {"batch_id": batch, "end_to_end_id": f"{batch}0001", "status": "failed", "failure_code": "AC04",
         "failure_reason": "closed account", "processed_at": f"{d2}T09:00:00+08:00"}], BANK_RETURN_COLUMNS).encode())
    facts = {"claim_id": "C0", "order_id": "O0", "incident_at": f"{DAY}T12:20:00+08:00",
             "reported_at": f"{DAY}T12:45:00+08:00", "payee_account": f.card_number("62220777777777777")}
    drop(env, "claims", "didi", d2, "payee.csv", f.csv_text([f.claim(**facts, medical_cost_fen="45000")]).encode())
    for source in ("orders", "claims", "determinations", "bank_returns"):
        ingest_source(source, d2)
    publish_day(d2)
    adjudicate_day(d2)  # (day 2's payout task fails here)
    drop(env, "claims", "didi", d3, "amended.csv", f.csv_text([f.claim(**facts, medical_cost_fen="60000")]).encode())
    run(d3)  # standard review
    drop_feed(env, "determinations", d4, "hrss.csv", determination_csv([
        {"claim_id": "C0", "platform_code": "didi", "decision": "approved", "approved_amount_fen": "60000",
         "reason": "", "decided_at": f"{d4}T10:00:00+08:00", "decided_by": "HRSS"}]))
    assert run(d4)["total_fen"] == 15000  # the raise
    pay_day(d2)  # the retry: the return reverses 45,000, and 30,000 is owed as of day 2
    assert "C0" in work_list()
    run(d5)
    with Session(engine_for(load_settings().database_url)) as session:
        live = session.execute(select(func.sum(PayoutItem.amount_fen)).where(
            PayoutItem.claim_id == "C0", PayoutItem.returned_on.is_(None))).scalar_one()
    assert (live, work_list()) == (60000, [])


def test_a_late_file_on_a_released_day_without_payouts_is_paid_the_next_day(env: Path) -> None:
    """A day with nothing to pay is released with an empty manifest: a re-run that
    finds a late claim must not add batches to it (its manifest is published);
    the claim stays listed and the next day pays it."""
    assert run(DAY)["items"] == 0
    before = outbox_files(env, DAY)
    land_late_claim(env)
    assert run(DAY)["items"] == 0
    assert outbox_files(env, DAY) == before and work_list() == ["C9"]
    result = run(DAY + timedelta(days=1))
    assert (result["items"], result["total_fen"], work_list()) == (1, 30000, [])
