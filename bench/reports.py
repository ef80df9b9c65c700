"""Benchmark: one business day's reports over a long ledger history.

Builds a ledger (SQLite) holding DAYS of national-shape history, written directly
in bulk (not through the pipeline, which would take hours): per day, order
aggregates for 17 provinces x 11 platforms (ORDERS orders a day in total) and
CLAIMS claims with their versions, fast-track decisions, released payout items,
the bank's settled answers and the ledger's postings. Then times the reports of
the day after 100 days of history and of the last day (each report reads the
ledger as of its day), and prints the ratio.

Issue 14's full scale is 400 days of 100,000 claims a day (40 million claims);
that takes far more than this shared machine allows, so the scale is an argument:

    python bench/reports.py [--days 400] [--claims 200] [--orders 10000000] [--early 100] [--workdir DIR]

Targets (issue 14): under 10 s for the day on SQLite; the last day within 1.3x the
100th, each the latest day of the history built so far. The order lake is not
built: insured workers (read from the lake's pseudonyms) are outside this measure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _measure import peak_mb  # noqa: E402

START = date(2024, 9, 1)
PROVINCES = ["110000", "120000", "130000", "210000", "310000", "320000", "330000", "340000", "350000", "370000",
             "420000", "440000", "450000", "460000", "500000", "510000", "640000"]
PLATFORMS = [("didi", "ride_hailing", 1), ("caocao", "ride_hailing", 1), ("meituan", "instant_delivery", 25),
             ("eleme", "instant_delivery", 25), ("dada", "instant_delivery", 7), ("shansong", "instant_delivery", 7),
             ("sfcity", "instant_delivery", 7), ("huolala", "freight", 18), ("kuaigou", "freight", 18),
             ("didifreight", "freight", 18), ("manbang", "freight", 18)]


def build(url: str, first: int, days: int, claims_per_day: int, orders_per_day: int) -> None:
    """The history, day by day, in bulk inserts (one transaction a day)."""
    from claims.ledger.db import engine_for, upgrade
    from claims.ledger.models import (
        BankReturn,
        BankReturnResult,
        ClaimOrder,
        ClaimVersion,
        Decision,
        DecisionNote,
        LandingFile,
        LedgerPosting,
        LedgerTransaction,
        OrderStats,
        PayoutBatch,
        PayoutItem,
        PayoutRelease,
    )

    upgrade(url)
    engine = engine_for(url)
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    per_group = max(1, orders_per_day // (len(PROVINCES) * len(PLATFORMS)))
    connection = engine.raw_connection()
    file_id, item_id, transaction_id = (connection.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
                                        for table in ("landing_file", "payout_item", "ledger_transaction"))
    connection.execute("PRAGMA synchronous=OFF")

    def bulk(model: object, rows: list[dict]) -> None:
        """executemany on the driver, values as SQLAlchemy stores them on SQLite."""
        if not rows:
            return
        columns = list(rows[0])
        values = [tuple(_sqlite_value(row[column]) for column in columns) for row in rows]
        connection.executemany(f"INSERT INTO {model.__tablename__} ({', '.join(columns)}) "  # type: ignore[attr-defined]
                               f"VALUES ({', '.join('?' * len(columns))})", values)

    if first == 0:
        bulk(DecisionNote, [{"id": 1, "sha256": "0" * 64, "body": "{}"}])
    for offset in range(first, days):
        day = START + timedelta(days=offset)
        if True:  # one transaction a day
            files = []
            for kind, platform in [("claims", ""), ("bank_returns", ""), *(("orders", p) for p, _i, _r in PLATFORMS)]:
                file_id += 1
                files.append({"id": file_id, "sha256": f"{file_id:064d}", "source": kind, "platform_code": platform,
                              "partition_date": day, "file_key": f"{kind}/{day}/{file_id}", "file_format": "csv",
                              "encoding": "utf-8", "size_bytes": 1, "business_day": day, "status": "loaded",
                              "reject_code": None, "rows_in": 1, "rows_loaded": 1, "rows_unchanged": 0,
                              "rows_rejected": 0, "premium_mismatches": 0, "extra_columns": "", "lake_key": None,
                              "validation": None, "loaded_at": stamp})
            bulk(LandingFile, files)
            claims_file, returns_file = files[0]["id"], files[1]["id"]
            orders_files = {f["platform_code"]: f["id"] for f in files[2:]}
            bulk(OrderStats, [
                {"file_id": orders_files[platform], "platform_code": platform, "accepted_date": day, "business_day": day,
                 "province_code": province, "city_code": province[:2] + "0100", "industry": industry,
                 "order_count": per_group * (2 + rank) // 10, "completed_count": per_group * (2 + rank) // 10,
                 "cancelled_count": 0, "premium_fen": per_group * (2 + rank) // 10 * rate,
                 "expected_premium_fen": per_group * (2 + rank) // 10 * rate, "premium_mismatches": 0}
                for rank, province in enumerate(PROVINCES) for platform, industry, rate in PLATFORMS])
            versions, orders, decisions, items, transactions, postings, answers, results = [], [], [], [], [], [], [], []
            batches: dict[str, dict] = {}
            first_version = offset * claims_per_day + 1
            for index in range(claims_per_day):
                number = first_version + index
                province = PROVINCES[number % len(PROVINCES)]
                platform = PLATFORMS[number % len(PLATFORMS)][0]
                claim_id, order_id = f"C{number}", f"O{number}"
                versions.append({
                    "id": number, "platform_code": platform, "claim_id": claim_id, "partition_date": day,
                    "file_name": "claims.csv", "line": index + 2, "file_id": claims_file, "business_day": day,
                    "content_hash": "0" * 64, "order_id": order_id, "worker_ref": f"W{number % 50000:08d}",
                    "pseudonym_key_id": "dev", "worker_name_enc": "x", "payee_account_enc": "x",
                    "payee_account_masked": "6222********0001", "encryption_key_id": "dev",
                    "payee_bank_code": "102100099996", "incident_at": stamp, "reported_at": stamp,
                    "incident_province_code": province, "incident_city_code": province[:2] + "0100",
                    "injury_type": "sprain", "treatment": "outpatient", "inpatient_days": 0, "medical_cost_fen": 45000,
                    "disability_assessment": False, "liability_disputed": False, "documents": "application_form"})
                orders.append({"id": number, "platform_code": platform, "order_id": order_id, "worker_ref": "w",
                               "province_code": province, "city_code": province[:2] + "0100",
                               "industry": PLATFORMS[number % len(PLATFORMS)][1], "accepted_at": stamp,
                               "completed_at": stamp, "status": "completed", "file_id": orders_files[platform]})
                decisions.append({
                    "id": number, "platform_code": platform, "claim_id": claim_id, "claim_version_id": number,
                    "business_day": day, "basis": "rules", "outcome": "fast_track", "reason_codes": "",
                    "rule_set": "national", "rule_version": "1", "payable_fen": 45000, "filed_on": day,
                    "confirm_by": None, "pay_by": day + timedelta(days=5), "calendar_estimated": False, "note_id": 1,
                    "decided_at": stamp})
                batch_id = f"PO{day:%Y%m%d}{province}001"
                batch = batches.setdefault(batch_id, {"province": province, "count": 0, "sum": 0})
                batch["count"] += 1
                batch["sum"] += 45000
                e2e = f"{batch_id}{batch['count']:04d}"
                item_id += 1
                items.append({"id": item_id, "end_to_end_id": e2e, "batch_id": batch_id, "business_day": day,
                              "platform_code": platform, "claim_id": claim_id, "instalment": 1, "decision_id": number,
                              "claim_version_id": number, "province_code": province, "amount_fen": 45000,
                              "payee_name_enc": "x", "payee_account_enc": "x", "payee_account_masked": "x",
                              "payee_bank_code": "102100099996", "returned_on": None})
                settled_on = day + timedelta(days=1)
                for kind, reference, debit, credit, on in (
                    ("approve", f"decision:{number}", "benefit_expense", "benefits_payable", day),
                    ("disburse", f"item:{e2e}", "benefits_payable", "in_transit", day),
                    ("settle", f"item:{e2e}", "in_transit", "bank", settled_on),
                ):
                    transaction_id += 1
                    transactions.append({"id": transaction_id, "business_day": on, "kind": kind,
                                         "reference": reference, "platform_code": platform, "claim_id": claim_id,
                                         "created_at": stamp})
                    postings += [{"transaction_id": transaction_id, "account": f"{debit}:{province}",
                                  "amount_fen": 45000},
                                 {"transaction_id": transaction_id, "account": f"{credit}:{province}",
                                  "amount_fen": -45000}]
                answers.append({"id": item_id, "file_id": returns_file, "line": index + 2, "business_day": settled_on,
                                "batch_id": batch_id, "end_to_end_id": e2e, "status": "settled", "failure_code": "",
                                "failure_reason": "", "processed_at": stamp, "content_hash": "0" * 64})
                results.append({"bank_return_id": item_id, "business_day": settled_on,
                                "result_code": "RETURN_SETTLED"})
            bulk(ClaimVersion, versions)
            bulk(ClaimOrder, orders)
            bulk(Decision, decisions)
            bulk(PayoutBatch, [
                {"batch_id": batch_id, "business_day": day, "province_code": batch["province"], "sequence": 1,
                 "item_count": batch["count"], "control_sum_fen": batch["sum"], "requested_execution_date": day,
                 "created_at": stamp, "csv_sha256": "0" * 64, "xml_sha256": "0" * 64}
                for batch_id, batch in sorted(batches.items())])
            bulk(PayoutItem, items)
            bulk(PayoutRelease, [{"business_day": day, "released_at": stamp,
                                                     "released_by": "automatic", "prepared_by": "claims",
                                                     "automatic": True, "manifest_sha256": "0" * 64}])
            bulk(LedgerTransaction, transactions)
            bulk(LedgerPosting, postings)
            bulk(BankReturn, answers)
            bulk(BankReturnResult, results)
            connection.commit()
    connection.close()


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def close_history(url: str, last: date) -> float:
    """Derive the claims' states, close every day of the history into the running
    totals, keep the past months of the trends and the cells of ``last``'s report,
    as the daily reports would have (the first report after the upgrade does this
    once)."""
    from sqlalchemy.orm import Session

    from claims.ledger.db import engine_for
    from claims.reports.claim_state import cells_as_of, refresh
    from claims.reports.province import detail_window_start
    from claims.reports.totals import close_through
    from claims.reports.trends import past_months

    start = time.perf_counter()
    refresh(engine_for(url))  # every claim's states, derived once
    with Session(engine_for(url)) as session, session.begin():
        close_through(session, last)
    past_months(engine_for(url), None, last)  # the monthly trends' past months, each kept once
    cells_as_of(engine_for(url), last, detail_window_start(last))  # the cells the report of ``last`` keeps
    return time.perf_counter() - start


def time_report(day: date) -> tuple[float, dict]:
    from claims.reports import report_day

    start = time.perf_counter()
    result = report_day(day, check=False)
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=400, help="days of history (issue 14: 400)")
    parser.add_argument("--claims", type=int, default=200, help="claims a day (issue 14: 100,000)")
    parser.add_argument("--orders", type=int, default=10_000_000, help="orders a day, in aggregates")
    parser.add_argument("--early", type=int, default=100, help="the earlier day measured, after this many days")
    parser.add_argument("--workdir", help="a new folder for the ledger and outbox (default: a temporary one)")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="claims-bench-reports-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / 'claims.db'}"
    os.environ.update({"CLAIMS_DATABASE_URL": url, "CLAIMS_OUTBOX_URL": str(workdir / "outbox"),
                       "CLAIMS_LAKE_URL": str(workdir / "lake"), "CLAIMS_LANDING_URL": str(workdir / "landing")})
    early = START + timedelta(days=args.early - 1)
    last = START + timedelta(days=args.days - 1)
    import claims.reports.render  # noqa: F401 - imported before the clock

    figures = {}
    built = 0
    # As the history grows: build up to the day before the early day, derive and
    # close that history as the daily reports would have, then build the early day
    # and time its report (which derives the day's claims and closes the day, as
    # every day's report does); then the same up to the last day.
    for label, day, days in (("early", early, args.early), ("last", last, args.days)):
        start = time.perf_counter()
        build(url, built, days - 1, args.claims, args.orders)
        span = f"days {built + 1}-{days - 1}" if days - 1 > built else "no further day"
        print(f"ledger: {span} x {args.claims:,} claims, {args.orders:,} orders a day built in "
              f"{time.perf_counter() - start:.1f} s; derived, closed into the running totals and past months "
              f"in {close_history(url, day - timedelta(days=1)):.1f} s (what the daily reports do, once each)")
        build(url, days - 1, days, args.claims, args.orders)
        built = days
        seconds, result = time_report(day)
        figures[label] = seconds
        print(f"reports of {day} ({(day - START).days + 1} days of history, {days * args.claims:,} claims): "
              f"{seconds:.2f} s, tie-out {'holds' if result['payouts_tie_out'] else 'DIFFERS'}, "
              f"{result['payout_exceptions']} exception(s), peak {peak_mb():.0f} MB")
    print(f"ratio last/early: {figures['last'] / figures['early']:.2f} (target under 1.3); "
          f"last day {figures['last']:.2f} s (target under 10 s on SQLite)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
