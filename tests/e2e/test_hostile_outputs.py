"""Outputs cannot harm the people who open them (issue 13, items 5 and 6): the
OWASP CSV-injection payloads, fed in wherever a platform can put text, reach no
CSV file as a cell a spreadsheet would run, and no output file holds a control
character other than the line ends. Ingestion, adjudication and payouts run
in-process (no Airflow), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from claims.adjudication import adjudicate_day
from claims.ingest import ingest_source, publish_day
from claims.payouts import pay_day
from claims.reports import report_day
from tests import factories as f
from tests.ingest.test_pipeline import drop
from tests.test_csvtext import OWASP_PAYLOADS, cells_a_spreadsheet_would_run, control_characters

DAY = date(2025, 9, 1)
#: Claim and order ids the contract allows ([A-Za-z0-9_-]) that start a formula.
FORMULA_IDS = ["-cmd", "-2-3", "-A1-A2"]


def land_hostile_day(root: Path) -> None:
    accepted, completed = f"{DAY}T12:00:00+08:00", f"{DAY}T12:40:00+08:00"
    incident, reported = f"{DAY}T12:20:00+08:00", f"{DAY}T12:45:00+08:00"
    orders, claims = [], []
    for i, claim_id in enumerate(FORMULA_IDS):  # valid claims: decided, paid
        orders.append(f.order(order_id=f"-O{i}", accepted_at=accepted, completed_at=completed))
        claims.append(f.claim(claim_id=claim_id, order_id=f"-O{i}", incident_at=incident, reported_at=reported,
                              payee_account=f.card_number(f"62220{i:013d}")))
    for i, payload in enumerate(OWASP_PAYLOADS):  # every text field a payload: rejected, or loaded as text
        orders.append(f.order(order_id=f"P{i}", worker_name=payload, accepted_at=accepted, completed_at=completed))
        claims.append(f.claim(claim_id=f"PC{i}", order_id=f"P{i}", worker_name=payload, incident_at=incident,
                              reported_at=reported, payee_account=f.card_number(f"62221{i:013d}")))
        claims.append(f.claim(claim_id=payload, order_id=payload, injury_type=payload, documents=payload))
    drop(root, "orders", "didi", DAY, "orders.csv", f.csv_text(orders).encode())
    drop(root, "claims", "didi", DAY, "claims.csv", f.csv_text(claims).encode())
    drop(root, "claims", "didi", DAY, "=cmd|' calc'!A0.csv", f.csv_text(claims[:1]).encode() + b"\x00\x1b\x7f")
    drop(root, "claims", "didi", DAY, "\tname\x1b[31m\x7f.csv", b"\x00\x01")
    drop(root, "orders", "didi", DAY, "-2+3+cmd.jsonl", b'{"order_id": "=1+1"}\n')


def run_day(root: Path) -> Path:
    for source in ("orders", "claims", "determinations", "bank_returns"):
        ingest_source(source, DAY)
    publish_day(DAY)
    adjudicate_day(DAY)
    pay_day(DAY, auto_release=True)
    report_day(DAY, check=False)  # finance_summary.csv and bank_returns.csv are the reports stage's
    return root / "outbox"


def test_no_csv_output_runs_a_payload_and_no_output_holds_a_control_character(ledger_env: Path) -> None:
    land_hostile_day(ledger_env)
    outbox = run_day(ledger_env)
    files = sorted(path for path in outbox.rglob("*") if path.is_file())
    csvs = [path for path in files if path.suffix == ".csv"]
    kinds = {path.parent.parent.name if path.parent.name.startswith("province=") else path.name for path in csvs}
    assert {"rejections.csv", "files.csv", "decisions.csv", "deadlines.csv", "finance_summary.csv",
            "payouts"} <= kinds | {"payouts"} and any("province=" in str(path) for path in csvs)
    for path in csvs:
        data = path.read_bytes()
        assert cells_a_spreadsheet_would_run(data) == [], path
    for path in files:
        if path.suffix not in (".csv", ".json", ".xml", ".html") or "data_docs" in path.parts:
            continue  # Great Expectations' own Data Docs site (fonts, scripts) is not ours to render
        data = path.read_bytes()
        controls = sorted({byte for byte in data if (byte < 0x20 and byte != 0x0A) or byte == 0x7F})
        c1 = [char for char in data.decode("utf-8", "replace") if 0x80 <= ord(char) <= 0x9F]
        assert not controls and not c1, (path, controls, c1)

    def rows(path: Path) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(path.read_text("utf-8"), newline="")))

    # the payloads did reach the files, neutralised, not dropped:
    decided = {row["claim_id"] for row in rows(outbox / f"decisions/date={DAY}/decisions.csv")}
    assert {"'" + claim_id for claim_id in FORMULA_IDS} <= decided
    paid = {row["claim_id"] for path in csvs if "province=" in str(path) for row in rows(path)}
    assert {"'" + claim_id for claim_id in FORMULA_IDS} <= paid
    rejected = rows(outbox / f"feedback/platform=didi/date={DAY}/rejections.csv")
    # a payload used as a claim id is rejected, its record id withheld (a value outside the id alphabet
    # could be personal data put in the wrong column)
    invalid_ids = [row for row in rejected if row["field"] == "claim_id"]
    assert len(invalid_ids) >= len(OWASP_PAYLOADS) and {row["record_id"] for row in invalid_ids} == {""}
    files_named = {row["source_file"].rsplit("/", 1)[-1] for row in rejected}
    assert {"=cmd|' calc'!A0.csv", "\ufffdname\ufffd[31m\ufffd.csv"} <= files_named


NAMES = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3+cmd|' /C calc'!A0",
         "\t=1+1", "张三\x00\x1b[31m", "李四\x85"]


def test_payee_names_reach_the_payout_csv_as_text_or_not_at_all(ledger_env: Path) -> None:
    accepted, completed = f"{DAY}T12:00:00+08:00", f"{DAY}T12:40:00+08:00"
    drop(ledger_env, "orders", "didi", DAY, "orders.csv", f.csv_text([
        f.order(order_id=f"O{i}", accepted_at=accepted, completed_at=completed) for i in range(len(NAMES))]).encode())
    drop(ledger_env, "claims", "didi", DAY, "claims.csv", f.csv_text([
        f.claim(claim_id=f"C{i}", order_id=f"O{i}", worker_name=name, incident_at=f"{DAY}T12:20:00+08:00",
                reported_at=f"{DAY}T12:45:00+08:00", payee_account=f.card_number(f"62220{i:013d}"))
        for i, name in enumerate(NAMES)]).encode())
    outbox = run_day(ledger_env)
    for path in outbox.rglob("*.csv"):
        data = path.read_bytes()
        assert cells_a_spreadsheet_would_run(data) == [] and control_characters(data) == [], path
