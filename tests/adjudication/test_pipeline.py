"""Adjudication over the ledger, on SQLite and PostgreSQL: from landed orders and
claims to decisions, determinations, deadlines and explanations."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest

from claims.adjudication import adjudicate_day
from claims.ingest import ingest_source, publish_day
from tests import factories as f
from tests.ingest.test_pipeline import determination_csv, drop, drop_feed

DAY = date(2025, 9, 1)
HAINAN = {"province_code": "460000", "city_code": "460100"}


@pytest.fixture
def env(ledger_env: Path) -> Path:
    return ledger_env


def run(day: date) -> dict:
    for source in ("orders", "claims", "determinations"):
        ingest_source(source, day)
    publish_day(day)
    return adjudicate_day(day)


def decisions(root: Path, day: date = DAY) -> dict[str, dict[str, str]]:
    path = root / "outbox" / "decisions" / f"date={day.isoformat()}" / "decisions.csv"
    return {row["claim_id"]: row for row in csv.DictReader(io.StringIO(path.read_text("utf-8")))}


def orders_file(*rows: dict[str, str]) -> bytes:
    return f.csv_text(list(rows)).encode()


def claims_file(*rows: dict[str, str]) -> bytes:
    return f.csv_text(list(rows)).encode()


def test_a_day_of_claims_is_decided_once_with_reasons_and_rule_versions(env: Path) -> None:
    other = f.resident_id("44030519920101234")
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(
        f.order(order_id="O1", **HAINAN), f.order(order_id="O2", **HAINAN), f.order(order_id="O3", **HAINAN),
        f.order(order_id="O4"),
    ))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(
        f.claim(claim_id="FT", order_id="O1", incident_province_code="460000", incident_city_code="460100",
                medical_cost_fen="299999"),
        f.claim(claim_id="CAP", order_id="O2", medical_cost_fen="300000", incident_province_code="460000",
                incident_city_code="460100"),
        f.claim(claim_id="OTHER", order_id="O3", worker_id=other, incident_province_code="460000",
                incident_city_code="460100"),
        f.claim(claim_id="DUP-1", order_id="O4"),
        f.claim(claim_id="DUP-2", order_id="O4"),
        f.claim(claim_id="WAIT", order_id="O-LATE"),
    ))
    summary = run(DAY)
    assert summary["published"]["decisions"] == 6
    rows = decisions(env)
    assert {k: (v["outcome"], v["reason_codes"]) for k, v in rows.items()} == {
        "FT": ("fast_track", ""),
        "CAP": ("standard_review", "COST_OVER_CAP"),
        "OTHER": ("rejected", "CLAIMANT_NOT_ORDER_WORKER"),
        "DUP-1": ("fast_track", ""),
        "DUP-2": ("standard_review", "DUPLICATE_CLAIM"),
        "WAIT": ("pending", "ORDER_NOT_LOADED"),
    }
    assert rows["FT"]["rule_version"] == "hainan-small-injury@2025-01"
    assert rows["DUP-1"]["rule_version"] == "beijing-small-injury@2025-01"
    assert rows["FT"]["decided_at"].endswith("+08:00")
    before = (env / "outbox" / "decisions" / f"date={DAY}" / "decisions.csv").read_bytes()
    again = run(DAY)
    assert again["decided"] == {}
    assert (env / "outbox" / "decisions" / f"date={DAY}" / "decisions.csv").read_bytes() == before


def test_pending_claims_are_decided_when_their_order_arrives_or_go_to_review(env: Path) -> None:
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(f.claim(claim_id="LATE", order_id="O-LATE"),
                                                          f.claim(claim_id="NEVER", order_id="O-NEVER")))
    run(DAY)
    assert decisions(env)["LATE"]["outcome"] == "pending"
    next_day = DAY + timedelta(days=1)
    drop(env, "orders", "didi", DAY, "late.csv", orders_file(f.order(order_id="O-LATE")))  # a late file
    run(next_day)
    assert {k: v["outcome"] for k, v in decisions(env, next_day).items()} == {"LATE": "fast_track", "NEVER": "pending"}
    week_later = DAY + timedelta(days=7)
    run(week_later)
    assert decisions(env, week_later)["NEVER"]["reason_codes"] == "NO_ORDER_RECORD"
    assert decisions(env, week_later)["NEVER"]["outcome"] == "standard_review"
    assert "LATE" not in decisions(env, week_later)  # decided already: nothing new


def test_an_amendment_is_decided_afresh(env: Path) -> None:
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1")))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(f.claim(claim_id="C1", order_id="O1")))
    run(DAY)
    assert decisions(env)["C1"]["outcome"] == "fast_track"
    later = DAY + timedelta(days=2)
    drop(env, "claims", "didi", later, "c.csv", claims_file(f.claim(claim_id="C1", order_id="O1", liability_disputed="true")))
    run(later)
    assert (decisions(env, later)["C1"]["outcome"], decisions(env, later)["C1"]["reason_codes"]) == (
        "standard_review", "LIABILITY_DISPUTED")


def test_determinations_apply_to_claims_under_review_only(env: Path) -> None:
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1"), f.order(order_id="O2")))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(
        f.claim(claim_id="REVIEW", order_id="O1", treatment="inpatient", inpatient_days="3"),
        f.claim(claim_id="FAST", order_id="O2"),
    ))
    run(DAY)
    later = DAY + timedelta(days=3)
    base = {"platform_code": "didi", "reason": "", "decided_at": "2025-09-04T10:00:00+08:00", "decided_by": "HRSS"}
    drop_feed(env, "determinations", later, "d.csv", determination_csv([
        dict(base, claim_id="REVIEW", decision="approved", approved_amount_fen="812345"),
        dict(base, claim_id="FAST", decision="rejected", approved_amount_fen=""),
        dict(base, claim_id="NOBODY", decision="approved", approved_amount_fen="100"),
    ]))
    summary = run(later)
    assert summary["determinations"] == {"APPROVED_BY_DETERMINATION": 1, "DETERMINATION_NOT_UNDER_REVIEW": 1,
                                         "DETERMINATION_UNKNOWN_CLAIM": 1}
    assert (decisions(env, later)["REVIEW"]["outcome"], decisions(env, later)["REVIEW"]["reason_codes"]) == (
        "standard_review", "APPROVED_BY_DETERMINATION")
    path = env / "outbox" / "decisions" / f"date={later}" / "determinations.csv"
    results = {row["claim_id"]: row["result_code"] for row in csv.DictReader(io.StringIO(path.read_text("utf-8")))}
    assert results == {"REVIEW": "APPROVED_BY_DETERMINATION", "FAST": "DETERMINATION_NOT_UNDER_REVIEW",
                       "NOBODY": "DETERMINATION_UNKNOWN_CLAIM"}


def test_decisions_by_rules_and_by_determination_are_published_in_claim_order(env: Path) -> None:
    """A day's decisions by the rules and by determinations are listed together in
    claim order, and a re-run renders the same bytes."""
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1"), f.order(order_id="O2"),
                                                          f.order(order_id="O3")))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(
        f.claim(claim_id="B-REVIEW", order_id="O1", treatment="inpatient", inpatient_days="3")))
    run(DAY)
    later = DAY + timedelta(days=1)
    drop(env, "claims", "didi", later, "c.csv", claims_file(f.claim(claim_id="C-NEW", order_id="O3"),
                                                            f.claim(claim_id="A-NEW", order_id="O2")))
    drop_feed(env, "determinations", later, "d.csv", determination_csv([{
        "claim_id": "B-REVIEW", "platform_code": "didi", "decision": "approved", "approved_amount_fen": "5000",
        "reason": "", "decided_at": "2025-09-02T10:00:00+08:00", "decided_by": "HRSS"}]))
    run(later)
    path = env / "outbox" / "decisions" / f"date={later}" / "decisions.csv"
    first = path.read_bytes()
    assert [(row["claim_id"], row["reason_codes"]) for row in csv.DictReader(io.StringIO(first.decode()))] == [
        ("A-NEW", ""), ("B-REVIEW", "APPROVED_BY_DETERMINATION"), ("C-NEW", "")]
    again = adjudicate_day(later)
    assert again["decided"] == {} and path.read_bytes() == first


def test_deadlines_report_lists_claims_near_or_past_confirmation(env: Path) -> None:
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1", **HAINAN)))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(f.claim(claim_id="SLOW", order_id="O1", liability_disputed="true")))
    run(DAY)
    report_day = DAY + timedelta(days=60)  # 30 working days from 1 September, Golden Week included, is 20 October
    run(report_day)
    path = env / "outbox" / "reports" / f"date={report_day}" / "deadlines.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    assert [(r["claim_id"], r["status"]) for r in rows] == [("SLOW", "overdue")]


def test_a_settled_review_leaves_the_report_and_an_earlier_report_is_rendered_again_the_same(env: Path) -> None:
    """A determination closes the review from its day on; running the earlier day
    again after it gives that day's report byte for byte (what was open then)."""
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1", **HAINAN),
                                                          f.order(order_id="O2", **HAINAN)))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(
        f.claim(claim_id="SETTLED", order_id="O1", liability_disputed="true"),
        f.claim(claim_id="WAITING", order_id="O2", liability_disputed="true")))
    run(DAY)
    report_day = DAY + timedelta(days=60)
    run(report_day)

    def report(day: date) -> bytes:
        return (env / "outbox" / "reports" / f"date={day}" / "deadlines.csv").read_bytes()

    def listed(day: date) -> list[tuple[str, str]]:
        return [(r["claim_id"], r["status"]) for r in csv.DictReader(io.StringIO(report(day).decode("utf-8")))]

    first = report(report_day)
    assert listed(report_day) == [("SETTLED", "overdue"), ("WAITING", "overdue")]
    settle_day = report_day + timedelta(days=1)
    drop_feed(env, "determinations", settle_day, "d.csv", determination_csv([{
        "claim_id": "SETTLED", "platform_code": "didi", "decision": "approved", "approved_amount_fen": "5000",
        "reason": "", "decided_at": "2025-10-31T10:00:00+08:00", "decided_by": "HRSS"}]))
    assert run(settle_day)["determinations"] == {"APPROVED_BY_DETERMINATION": 1}
    assert listed(settle_day) == [("WAITING", "overdue")]
    run(report_day)
    assert report(report_day) == first


def _deadline_rows(env: Path, day: date) -> list[tuple[str, str, str]]:
    text = (env / "outbox" / "reports" / f"date={day}" / "deadlines.csv").read_text("utf-8")
    return [(row["claim_id"], row["outcome"], row["confirm_by"]) for row in csv.DictReader(io.StringIO(text))]


def test_a_review_decided_again_by_the_rules_leaves_the_report(env: Path) -> None:
    """An amendment decided again (here rejected: the claimant is not the order's
    worker) closes what the claim awaited: the report lists it no more."""
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1", **HAINAN)))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(
        f.claim(claim_id="AMENDED", order_id="O1", liability_disputed="true")))
    run(DAY)
    report_day = DAY + timedelta(days=60)
    amended_day = report_day + timedelta(days=1)
    drop(env, "claims", "didi", amended_day, "c.csv", claims_file(
        f.claim(claim_id="AMENDED", order_id="O1", liability_disputed="true",
                worker_id=f.resident_id("44030519920101234"))))
    for day in (report_day, amended_day):
        run(day)
    rows = {day: [row[0] for row in _deadline_rows(env, day)] for day in (report_day, amended_day)}
    assert decisions(env, amended_day)["AMENDED"]["outcome"] == "rejected"
    assert rows == {report_day: ["AMENDED"], amended_day: []}


def test_a_day_run_late_after_later_days_leaves_their_reports_as_they_were(env: Path) -> None:
    """A missed day run for the first time after later days decides nothing that a
    later day's run decided (its decision, made last, would count as the claim's
    current one: a pending claim fast-tracked since would be unpaid), so the later
    days' reports are rendered again the same."""
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1")))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(f.claim(claim_id="C", order_id="O-MISSING")))
    run(DAY)  # pending: its order is not in the lake
    amended = DAY + timedelta(days=2)
    drop(env, "claims", "didi", amended, "c.csv", claims_file(f.claim(claim_id="C", order_id="O1")))
    run(amended)
    assert decisions(env, amended)["C"]["outcome"] == "fast_track"
    late = DAY + timedelta(days=60)
    run(late)
    before = _deadline_rows(env, late)
    missed = DAY + timedelta(days=1)
    run(missed)  # its version was pending as of that day, but day 3 decided the current version
    assert "C" not in decisions(env, missed)
    assert _deadline_rows(env, missed) == []  # (its deadline is weeks away)
    run(late)
    assert _deadline_rows(env, late) == before == []
    from sqlalchemy import select

    from claims.ledger.db import engine_for
    from claims.ledger.models import AwaitingConfirmation as Awaiting
    from claims.settings import load_settings

    with engine_for(load_settings().database_url).connect() as connection:
        spans = connection.execute(select(Awaiting.opened_on, Awaiting.closed_on).where(
            Awaiting.claim_id == "C").order_by(Awaiting.opened_on)).all()
    assert [tuple(span) for span in spans] == [(DAY, amended)]  # one row per decision awaiting, no overlap


def test_a_day_run_late_looks_again_at_no_pending_claim_a_later_day_decided(env: Path) -> None:
    """A claim pending on day 1 (its order not in yet) is fast-tracked by day 3's
    run, which loads the order's late file; day 2, run for the first time after that, must
    not look at it again: its pending decision, made last, would be the claim's
    current one and the fast track would never be paid."""
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(f.claim(claim_id="C", order_id="O1")))
    run(DAY)
    assert decisions(env, DAY)["C"]["outcome"] == "pending"
    third = DAY + timedelta(days=2)
    drop(env, "orders", "didi", DAY, "late.csv", orders_file(f.order(order_id="O1")))  # late, loaded by day 3
    run(third)
    assert decisions(env, third)["C"]["outcome"] == "fast_track"
    run(DAY + timedelta(days=1))
    assert "C" not in decisions(env, DAY + timedelta(days=1))
    from sqlalchemy import select

    from claims.ledger.db import engine_for
    from claims.ledger.models import Decision
    from claims.settings import load_settings

    with engine_for(load_settings().database_url).connect() as connection:
        made = connection.execute(select(Decision.business_day, Decision.outcome).where(
            Decision.claim_id == "C").order_by(Decision.id)).all()
    assert [tuple(row) for row in made] == [(DAY, "pending"), (third, "fast_track")]  # the last made pays


def test_every_day_rendered_again_gives_its_report_again(env: Path) -> None:
    """Pending days, a review, a determination and an amendment after it: each
    day's report, rendered again after all the days ran, is the same."""
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1", **HAINAN)))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(
        f.claim(claim_id="P", order_id="O-NONE"), f.claim(claim_id="R", order_id="O1", liability_disputed="true")))
    days = [DAY + timedelta(days=n) for n in (0, 1, 2, 8, 40, 41, 60, 61)]
    for day in days[:5]:
        run(day)
    drop_feed(env, "determinations", days[5], "d.csv", determination_csv([{
        "claim_id": "R", "platform_code": "didi", "decision": "rejected", "approved_amount_fen": "",
        "reason": "", "decided_at": "2025-10-10T10:00:00+08:00", "decided_by": "HRSS"}]))
    drop(env, "claims", "didi", days[5], "c.csv", claims_file(
        f.claim(claim_id="R", order_id="O1", liability_disputed="true", medical_cost_fen="1234")))
    for day in days[5:]:
        run(day)
    reports = {day: _deadline_rows(env, day) for day in days}
    assert any(reports.values())  # (the scenario does list claims)
    for day in days:
        run(day)
    assert {day: _deadline_rows(env, day) for day in days} == reports


def test_explain_shows_every_rule_and_masks_personal_data(env: Path) -> None:
    from claims.adjudication.explain import explain
    from claims.ledger.db import engine_for
    from claims.privacy import Cipher
    from claims.settings import load_settings

    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1")))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(f.claim(claim_id="C1", order_id="O1", documents="consent")))
    run(DAY)
    settings = load_settings()
    text = explain(engine_for(settings.database_url), Cipher.from_ring(settings.encryption_keys), "C1")
    for rule in ("order_loaded", "covered", "cost_under_cap", "documents_complete", "filed_in_time"):
        assert rule in text
    assert "FAIL DOCUMENTS_MISSING" in text and "beijing-small-injury@2025-01" in text
    assert "outcome standard_review" in text and "confirm by" in text
    assert "note:" not in text  # the stored facts (its note says: no duplicate) give the stored decision again
    assert f.WORKER not in text and f.ACCOUNT not in text and "张三" not in text and "张*" in text


def test_a_run_that_failed_half_way_leaves_nothing_behind(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's temporary table and rows go with a failure: the next run (same
    process, same pooled connection) decides the day in full, once."""
    import claims.adjudication.pipeline as pipeline

    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O1"), f.order(order_id="O2")))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(f.claim(claim_id="C1", order_id="O1"),
                                                          f.claim(claim_id="C2", order_id="O2")))
    real = pipeline.decide

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the rules failed")

    monkeypatch.setattr(pipeline, "decide", broken)
    with pytest.raises(RuntimeError, match="the rules failed"):
        run(DAY)
    monkeypatch.setattr(pipeline, "decide", real)
    summary = adjudicate_day(DAY)
    assert summary["decided"] == {"fast_track": 2}
    assert summary["orders_linked"] == 2  # the failed run's links were rolled back with it
    assert set(decisions(env)) == {"C1", "C2"}


def test_a_duplicate_filed_on_a_later_day_is_found_against_the_earlier_claim(env: Path) -> None:
    """The earlier claim is not among the day's claims: the shared order is found in
    the ledger, and only the first of the pair keeps its fast track."""
    drop(env, "orders", "didi", DAY, "o.csv", orders_file(f.order(order_id="O4"), f.order(order_id="O5")))
    drop(env, "claims", "didi", DAY, "c.csv", claims_file(f.claim(claim_id="FIRST", order_id="O4"),
                                                          f.claim(claim_id="ALONE", order_id="O5")))
    run(DAY)
    later = DAY + timedelta(days=1)
    drop(env, "claims", "didi", later, "c.csv", claims_file(f.claim(claim_id="SECOND", order_id="O4",
                                                                    reported_at="2025-09-01T13:00:00+08:00")))
    run(later)
    first, second = decisions(env)["FIRST"], decisions(env, later)
    assert (first["outcome"], first["reason_codes"]) == ("fast_track", "")
    assert {k: (v["outcome"], v["reason_codes"]) for k, v in second.items()} == {
        "SECOND": ("standard_review", "DUPLICATE_CLAIM")}


def test_decisions_by_determination_go_after_the_rules_decision_of_the_same_claim() -> None:
    from claims.adjudication.pipeline import PublishedDecisions
    from claims.adjudication.publish import _merged

    def published(*rows: tuple[str, str, str]) -> PublishedDecisions:
        return PublishedDecisions([(platform, claim) for claim, platform, _ in rows], [",".join(row) for row in rows])

    rules = published(("A", "didi", "fast_track"), ("B", "didi", "standard_review"), ("A", "eleme", "fast_track"))
    determined = published(("B", "didi", "standard_review*"), ("0", "didi", "rejected"), ("Z", "didi", "rejected"))
    assert _merged(rules, determined) == published(
        ("0", "didi", "rejected"), ("A", "didi", "fast_track"), ("B", "didi", "standard_review"),
        ("B", "didi", "standard_review*"), ("Z", "didi", "rejected"), ("A", "eleme", "fast_track"))
    assert _merged(rules, published()) is rules
