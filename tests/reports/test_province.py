"""The province report: every figure against an independent recomputation from
the rows the test put in, small-cell suppression at 0, 1, 4 and 5 workers and
for derived ratios, and a personal-data scan of every report output."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.ingest import ingest_source
from claims.ledger.db import engine_for
from claims.ledger.models import ClaimVersion
from claims.reports import report_day
from claims.reports.province import PROVINCE_COLUMNS, Figures
from claims.settings import load_settings
from tests.payouts.test_pipeline import run
from tests.reports.helpers import card, land_day, report_rows, worker_id

AUGUST = date(2025, 8, 20)
TENTH = date(2025, 9, 10)
DAY = date(2025, 9, 12)
PREMIUM = {"didi": 1, "meituan": 25, "eleme": 25}
#: (day, platform, province, workers with an order, workers who claim)
LANDED = [
    (AUGUST, "didi", "110000", [1, 2, 3], [1, 2, 3]),
    (TENTH, "didi", "110000", [1, 2, 4, 5], [4, 5]),
    (TENTH, "meituan", "110000", [11, 12, 13, 14], [11, 12, 13, 14]),
    (TENTH, "eleme", "310000", [31, 32, 33, 34, 35, 36], []),
    (DAY, "didi", "110000", [1, 6], [6]),
    (DAY, "didi", "310000", [21], [21]),
]


def _ratio(numerator: int, denominator: int, places: int) -> str:
    if denominator == 0:
        return ""
    exact = Fraction(numerator, denominator)
    return str((Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _expected(outcomes: dict[str, str], payments: dict[str, tuple[date, int]]) -> dict[tuple[str, str, str], dict]:
    """The report's figures recomputed from LANDED, the decisions and the payout
    files, with the suppression rule applied here independently."""
    periods = {"day": (DAY, DAY), "month_to_date": (DAY.replace(day=1), DAY),
               "last_30_days": (DAY - timedelta(days=29), DAY)}
    expected = {}
    for period, (start, end) in periods.items():
        groups: dict[tuple[str, str], dict] = defaultdict(lambda: {
            "workers": set(), "orders": 0, "claims": [], "paid": [], "first_paid": []})
        for day, platform, province, workers, claimants in LANDED:
            for key in ((province, platform), (province, "*")):
                group = groups[key]
                if start <= day <= end:
                    group["workers"] |= set(workers)
                    group["orders"] += len(workers)
                    group["premium"] = group.get("premium", 0) + PREMIUM[platform] * len(workers)
                    group["claims"] += [(f"C{province}{w}", w) for w in claimants]
                for worker in claimants:
                    paid = payments.get(f"C{province}{worker}")
                    if paid and start <= paid[0] <= end:
                        group["paid"].append((worker, paid[1]))
                        group["first_paid"].append((worker, (paid[0] - day).days))
        for (province, platform), group in groups.items():
            row: dict[str, str] = {}
            suppressed: list[str] = []

            def put(column: str, value: object, people: object, row: dict = row, suppressed: list = suppressed) -> None:
                if 1 <= len(set(people)) <= 4:  # type: ignore[arg-type]
                    row[column] = ""
                    suppressed.append(column)
                else:
                    row[column] = str(value)

            put("insured_workers", len(group["workers"]), group["workers"])
            put("orders", group["orders"], group["workers"])
            put("premium_fen", group.get("premium", 0), group["workers"])
            put("claims_filed", len(group["claims"]), [w for _c, w in group["claims"]])
            for outcome in ("fast_track", "standard_review", "rejected", "pending"):
                chosen = [w for c, w in group["claims"] if outcomes[c] == outcome]
                put(outcome, len(chosen), chosen)
            benefits = sum(amount for _w, amount in group["paid"])
            put("benefits_paid_fen", benefits, [w for w, _a in group["paid"]])
            fast = sum(1 for c, _w in group["claims"] if outcomes[c] == "fast_track")
            for column, inputs, value in (
                ("fast_track_share", ("fast_track", "claims_filed"), _ratio(fast, len(group["claims"]), 4)),
                ("payout_ratio", ("benefits_paid_fen", "premium_fen"), _ratio(benefits, group.get("premium", 0), 4)),
                ("accident_rate_per_million", ("claims_filed", "orders"),
                 _ratio(len(group["claims"]) * 10 ** 6, group["orders"], 2)),
            ):
                row[column] = "" if set(inputs) & set(suppressed) else value
                if set(inputs) & set(suppressed):
                    suppressed.append(column)
            days = sorted(d for _w, d in group["first_paid"])
            for column, share in (("median_days_to_payment", 0.5), ("p90_days_to_payment", 0.9)):
                if 1 <= len({w for w, _d in group["first_paid"]}) <= 4:
                    row[column] = ""
                    suppressed.append(column)
                else:
                    rank = -(-len(days) * int(share * 10) // 10)  # nearest rank, integer ceiling
                    row[column] = str(days[rank - 1]) if days else ""
            put("past_deadline", 0, [])
            row["suppressed"] = ";".join(c for c in PROVINCE_COLUMNS if c in suppressed)
            row.update(period_start=start.isoformat(), period_end=end.isoformat())
            expected[(province, platform, period)] = row
    return expected


def _read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def test_every_figure_equals_an_independent_recomputation_and_no_output_holds_personal_data(
        ledger_env: Path) -> None:
    for day in sorted({entry[0] for entry in LANDED}):
        for landed_day, platform, province, workers, claimants in LANDED:
            if landed_day == day:
                land_day(ledger_env, day, platform, province, workers, claims=claimants)
        run(day)
        ingest_source("declarations", day)
        report_day(day)
    outbox = ledger_env / "outbox"
    outcomes: dict[str, str] = {}
    for path in sorted(outbox.glob("decisions/date=*/decisions.csv")):
        for row in _read_csv(path):
            outcomes[row["claim_id"]] = row["outcome"]
    payments: dict[str, tuple[date, int]] = {}
    for path in sorted(outbox.glob("payouts/date=*/province=*/*.csv")):
        paid_on = date.fromisoformat(path.parts[-3].split("=")[1])
        for row in _read_csv(path):
            payments.setdefault(row["claim_id"], (paid_on, int(row["amount_fen"])))
    assert len(outcomes) == 11 and payments  # the scenario decided every claim and paid some
    expected = _expected(outcomes, payments)
    rows = report_rows(ledger_env, DAY, "province_report.csv")
    found = {(r["province_code"], r["platform_code"], r["period"]): r for r in rows
             if r["province_code"] in ("110000", "310000")}
    assert set(found) == set(expected)
    for key, row in found.items():
        assert {c: row[c] for c in expected[key]} == expected[key], key
    # the cases the suppression rule turns on, as the CSV shows them
    assert found[("110000", "didi", "month_to_date")]["claims_filed"] == ""  # 3 claimants (4, 5, 6)
    assert found[("110000", "didi", "last_30_days")]["claims_filed"] == "6"  # 6 claimants
    assert found[("110000", "meituan", "day")]["suppressed"] == ""  # nothing on D: zeros rest on no one
    assert found[("110000", "meituan", "month_to_date")]["claims_filed"] == ""  # 4 claimants
    assert found[("310000", "didi", "day")]["insured_workers"] == ""  # 1 worker
    assert found[("310000", "eleme", "month_to_date")]["insured_workers"] == "6"
    assert found[("310000", "eleme", "month_to_date")]["claims_filed"] == "0"  # 0 workers: shown
    assert [r["period"] for r in rows[:3]] == ["day", "month_to_date", "last_30_days"]
    assert rows == sorted(rows, key=lambda r: (r["province_code"], r["platform_code"],
                                               ["day", "month_to_date", "last_30_days"].index(r["period"])))

    # the trends are the same figures: D's month and D itself, as the CSV's lines show them
    from claims.reports.province import all_trends, claim_views, window_start
    from claims.reports.snapshot import load_snapshot
    from claims.store import open_store

    settings = load_settings()
    snapshot = load_snapshot(engine_for(settings.database_url), DAY, open_store(settings.lake_url), window_start(DAY))
    trend = all_trends(snapshot, claim_views(snapshot))
    figures = [c for c in PROVINCE_COLUMNS if c not in ("province_code", "platform_code", "period", "period_start",
                                                        "period_end")]
    for province in ("110000", "310000"):
        month, today = trend[province]["monthly"][-1], trend[province]["daily"][-1]
        assert len(trend[province]["monthly"]) == 12 and len(trend[province]["daily"]) == 30
        assert {c: str(month[c]) for c in figures} == {c: found[(province, "*", "month_to_date")][c] for c in figures}
        assert {c: str(today[c]) for c in figures} == {c: found[(province, "*", "day")][c] for c in figures}
    assert trend[None]["monthly"][-2]["label"] == "2025-08" and trend[None]["monthly"][-2]["claims_filed"] == ""

    # no report output holds an ID number, an account, a name or a worker's pseudonym
    with Session(engine_for(load_settings().database_url)) as session:
        pseudonyms = set(session.execute(select(ClaimVersion.worker_ref)).scalars())
    workers = {w for entry in LANDED for w in entry[3]}
    secrets = {worker_id(w) for w in workers} | {card(w) for w in workers} | {f"工人{w}" for w in workers} | pseudonyms
    digits = re.compile(r"(?<![0-9A-Za-z.])[0-9]{15,19}[0-9Xx]?(?![0-9A-Za-z])")
    reports = sorted(p for p in (outbox / "reports").rglob("*") if p.is_file())
    assert len(reports) > 20
    for path in reports:
        text = path.read_text("utf-8")
        assert not [secret for secret in secrets if secret in text], path
        assert not digits.findall(text), path


def _figures(claimants: list[str], fast: list[str] = (), workers: int = 10) -> Figures:
    figures = Figures()
    for index in range(workers):
        figures.insured.workers.add(f"w{index}")
    figures.orders.value = 1000
    figures.premium.value = 1000
    for claimant in claimants:
        figures.claims.add(1, claimant)
    for claimant in fast:
        figures.outcomes["fast_track"].add(1, claimant)
    return figures


def test_suppression_at_0_1_4_and_5_workers() -> None:
    for people, shown in ((0, True), (1, False), (4, False), (5, True)):
        row = _figures([f"w{i}" for i in range(people)]).row()
        assert (row["claims_filed"] != "") is shown, people
        assert ("claims_filed" in row["suppressed"].split(";")) is not shown
        assert (row["accident_rate_per_million"] != "") is shown  # derived from the claims
        workers = _figures([], workers=people).row()
        assert (workers["insured_workers"] != "", workers["orders"] != "", workers["premium_fen"] != "") == \
            (shown,) * 3
    # five claims of one worker rest on one worker
    assert _figures(["w1"] * 5).row()["claims_filed"] == ""
    assert _figures(["w1"] * 5).row()["fast_track"] == 0  # none: rests on no one


def test_a_ratio_is_suppressed_when_a_figure_it_derives_from_is() -> None:
    row = _figures([f"w{i}" for i in range(10)], fast=["w1", "w2"]).row()
    assert (row["claims_filed"], row["fast_track"], row["fast_track_share"]) == (10, "", "")
    assert row["accident_rate_per_million"] == "10000.00"  # claims and orders both shown
    assert row["suppressed"].split(";") == ["fast_track", "fast_track_share"]
    figures = _figures([f"w{i}" for i in range(6)])
    for index in range(3):
        figures.benefits.add(100, f"w{index}")
    row = figures.row()
    assert (row["benefits_paid_fen"], row["payout_ratio"]) == ("", "")
    figures.benefits.add(100, "w3")
    figures.benefits.add(100, "w4")
    assert (figures.row()["benefits_paid_fen"], figures.row()["payout_ratio"]) == (500, "0.5000")


def test_a_period_rests_on_the_union_of_its_days_claimants() -> None:
    """The claims side comes in cells per day: a period's figure rests on 5 or more
    workers when one of its days does, else on the union of the days' claimants."""
    from claims.reports.claim_state import Claimants, ClaimCells
    from claims.reports.province import figures_by_group
    from claims.reports.snapshot import Snapshot

    first, second = DAY - timedelta(days=1), DAY
    three = Claimants(False, frozenset({"w1", "w2", "w3"}))
    cells = ClaimCells(DAY)
    # the same three workers claim on both days (six claims), two more only on the second
    cells.filed[first].append(("110000", "didi", "fast_track", False, 3, three))
    cells.filed[second].append(("110000", "didi", "fast_track", False, 3, three))
    cells.filed[second].append(("110000", "didi", "pending", True, 2, Claimants(False, frozenset({"w4", "w5"}))))
    cells.money[second].append(("110000", "didi", 90000, Claimants(True, frozenset())))
    cells.first_paid[second].append(("110000", "didi", {0: 3, 4: 1}, three))
    snapshot = Snapshot(DAY)
    both = figures_by_group(snapshot, cells, first, second)[("110000", "*")].row()
    # eight claims of five workers; six fast-tracked of the same three
    assert (both["claims_filed"], both["fast_track"], both["pending"], both["past_deadline"]) == (8, "", "", "")
    assert both["benefits_paid_fen"] == 90000  # five or more claimants on one day
    assert (both["median_days_to_payment"], both["p90_days_to_payment"]) == ("", "")  # three claimants paid
    assert both["suppressed"].split(";") == ["fast_track", "pending", "fast_track_share", "median_days_to_payment",
                                             "p90_days_to_payment", "past_deadline"]
    one = figures_by_group(snapshot, cells, first, first)[("110000", "didi")].row()
    assert (one["claims_filed"], one["benefits_paid_fen"]) == ("", 0)  # three workers; nothing paid that day
    many = ClaimCells(DAY)
    many.first_paid[second].append(("110000", "didi", {0: 3, 2: 5, 9: 2}, Claimants(True, frozenset())))
    paid = figures_by_group(snapshot, many, second, second)[("110000", "*")].row()
    assert (paid["median_days_to_payment"], paid["p90_days_to_payment"]) == (2, 9)  # nearest rank of 10 claims
