"""Ingestion end to end without Airflow, on SQLite and on PostgreSQL: every row
ends up loaded or rejected, nothing loads twice, and outputs re-render the same."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.ingest import ingest_source, publish_day
from claims.ledger.db import engine_for
from claims.ledger.models import ClaimVersion, LandingFile, Rejection
from claims.settings import load_settings
from tests import factories as f

DAY = date(2025, 9, 1)


@pytest.fixture
def env(ledger_env: Path) -> Path:
    return ledger_env


def drop(root: Path, source: str, platform: str, day: date, name: str, data: bytes, marker: bool = True) -> None:
    folder = root / "landing" / source / f"platform={platform}" / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    if marker:
        (folder / "_SUCCESS").write_bytes(b"")


def rejections(root: Path, platform: str = "didi", day: date = DAY) -> list[dict[str, str]]:
    path = root / "outbox" / "feedback" / f"platform={platform}" / f"date={day.isoformat()}" / "rejections.csv"
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def published(root: Path) -> dict[Path, bytes]:
    """Every output file but quality/ (the contract exempts it from byte-identity)."""
    outbox = root / "outbox"
    files = {p: p.read_bytes() for p in outbox.rglob("*") if p.is_file() and p.relative_to(outbox).parts[0] != "quality"}
    assert files
    return files


def engine():  # type: ignore[no-untyped-def]
    return engine_for(load_settings().database_url)


def test_every_row_is_loaded_or_rejected_and_a_rerun_changes_nothing(env: Path) -> None:
    rows = [f.order(order_id=f"o{i}") for i in range(5)]
    rows[2] = f.order(order_id="o2", worker_id=f.wrong_check(f.WORKER), premium_fen="x")
    rows.append(f.order(order_id="o1"))  # repeated in the file
    text = f.csv_text(rows) + "o9,didi,1101"  # a truncated last line
    drop(env, "orders", "didi", DAY, "part-1.csv", text.encode())
    drop(env, "orders", "didi", DAY, "part-2.csv", text.encode())  # re-delivered bytes

    first = ingest_source("orders", DAY)
    publish_day(DAY)
    assert first["files"] == 2 and not first["unbalanced"]
    assert first["rows_in"] == 14 and first["rows_loaded"] == 4 and first["rows_rejected"] == 10

    lines = rejections(env)
    assert [(r["line"], r["record_id"], r["field"], r["reason_code"]) for r in lines] == [
        ("4", "o2", "worker_id", "INVALID_RESIDENT_ID"),
        ("4", "o2", "premium_fen", "INVALID_INTEGER"),
        ("7", "o1", "order_id", "DUPLICATE_IN_FILE"),
        ("8", "", "", "MALFORMED_ROW"),
        ("0", "", "", "DUPLICATE_FILE"),
    ]
    assert lines[-1]["source_file"].endswith("part-2.csv")
    assert all(f.WORKER[:-1] not in r["message"] for r in lines)  # no personal data in messages
    other = rejections(env, "meituan")
    assert other == []  # header only: every platform gets its file
    before = published(env)

    second = ingest_source("orders", DAY)
    publish_day(DAY)
    assert second["files"] == 0
    assert published(env) == before
    with Session(engine()) as session:
        assert session.scalar(select(func.count()).select_from(LandingFile)) == 1
        assert session.scalar(select(func.count()).select_from(Rejection)) == 5


def test_order_lake_holds_pseudonyms_and_flags_premium_mismatch(env: Path) -> None:
    rows = [f.order(order_id="o1"), f.order(order_id="o2", premium_fen="7"), f.order(order_id="o3", worker_id=f.HK_WORKER)]
    drop(env, "orders", "didi", DAY, "a.csv.gz", gzip.compress(f.csv_text(rows).encode(), mtime=0))
    ingest_source("orders", DAY)
    with Session(engine()) as session:
        lake_key = session.scalar(select(LandingFile.lake_key))
        stats = session.scalar(select(LandingFile.premium_mismatches))
    table = pq.read_table(env / "lake" / lake_key)
    assert table.num_rows == 3 and stats == 1
    assert table["premium_mismatch"].to_pylist() == [False, True, False]
    assert table["expected_premium_fen"].to_pylist() == [1, 1, 1]
    assert f.WORKER not in str(table.to_pylist())
    refs = table["worker_ref"].to_pylist()
    assert refs[0] == refs[1] != refs[2] and len(refs[0]) == 32


def test_identical_order_elsewhere_is_unchanged_and_a_different_one_is_duplicate_key(env: Path) -> None:
    drop(env, "orders", "didi", DAY, "a.csv", f.csv_text([f.order(order_id="o1"), f.order(order_id="o2")]).encode())
    ingest_source("orders", DAY)
    later = f.csv_text([f.order(order_id="o1"), f.order(order_id="o2", premium_fen="2"), f.order(order_id="o3")])
    drop(env, "orders", "didi", DAY, "b.csv", later.encode())
    summary = ingest_source("orders", DAY)
    assert (summary["rows_in"], summary["rows_loaded"], summary["rows_unchanged"], summary["rows_rejected"]) == (3, 1, 1, 1)
    publish_day(DAY)
    assert [(r["record_id"], r["reason_code"]) for r in rejections(env)] == [("o2", "DUPLICATE_KEY")]


def test_whole_file_rejections_and_the_rest_of_the_partition_loads(env: Path) -> None:
    good = f.csv_text([f.order(order_id="o1")])
    columns = [c for c in f.csv_text([f.order()]).splitlines()[0].split(",") if c != "worker_id"]
    drop(env, "orders", "didi", DAY, "1-missing.csv", f.csv_text([f.order(order_id="o5")], columns).encode())
    drop(env, "orders", "didi", DAY, "2-bad.csv", b"order_id\n\xff\xfe\x81\n")
    drop(env, "orders", "didi", DAY, "3-notes.txt", b"hello")
    drop(env, "orders", "didi", DAY, "4-fake.parquet", f.csv_text([f.order(order_id="o4")]).encode())
    drop(env, "orders", "didi", DAY, "5-good.csv", good.encode())
    summary = ingest_source("orders", DAY)
    publish_day(DAY)
    assert summary["rows_loaded"] == 1
    assert [(r["source_file"].rsplit("/", 1)[1], r["line"], r["field"], r["reason_code"]) for r in rejections(env)] == [
        ("1-missing.csv", "0", "worker_id", "MISSING_COLUMN"),
        ("2-bad.csv", "0", "", "UNDECODABLE"),
        ("3-notes.txt", "0", "", "UNSUPPORTED_FORMAT"),
        ("4-fake.parquet", "0", "", "UNREADABLE"),
    ]


def test_partitions_without_marker_wait_and_late_files_load_in_the_window(env: Path) -> None:
    drop(env, "orders", "didi", DAY, "a.csv", f.csv_text([f.order()]).encode(), marker=False)
    late_day = date(2025, 8, 27)
    late = f.order(order_id="late-1", accepted_at="2025-08-27T09:00:00+08:00", completed_at="2025-08-27T09:30:00+08:00")
    drop(env, "orders", "didi", late_day, "late.csv", f.csv_text([late]).encode())
    too_old = date(2025, 8, 25)
    drop(env, "orders", "didi", too_old, "old.csv", f.csv_text([f.order(order_id="old")]).encode())
    summary = ingest_source("orders", DAY)
    assert summary["rows_loaded"] == 1  # only the late file inside the 6-day window
    assert "orders/platform=didi/date=2025-09-01/" in summary["not_arrived"]
    with Session(engine()) as session:
        assert session.scalar(select(LandingFile.business_day)) == DAY  # stamped with the run's day
    explicit = ingest_source("orders", DAY, extra_dates=(too_old,))
    assert explicit["rows_in"] == 1  # an administrator's explicit request reads the old partition


def test_claim_amendments_keep_history_and_identical_versions_change_nothing(env: Path) -> None:
    drop(env, "claims", "didi", DAY, "a.csv", f.csv_text([f.claim(), f.claim(claim_id="CL-2")]).encode())
    drop(env, "claims", "didi", DAY, "b.csv", f.csv_text([
        f.claim(medical_cost_fen="52000"),  # an amendment
        f.claim(claim_id="CL-2"),  # identical to the current version
        f.claim(claim_id="CL-3"), f.claim(claim_id="CL-3", treatment="inpatient"),  # repeated in one file
    ]).encode())
    summary = ingest_source("claims", DAY)
    assert (summary["rows_in"], summary["rows_loaded"], summary["rows_unchanged"], summary["rows_rejected"]) == (6, 4, 1, 1)
    with Session(engine()) as session:
        versions = session.execute(
            select(ClaimVersion.claim_id, ClaimVersion.file_name, ClaimVersion.medical_cost_fen, ClaimVersion.worker_name_enc,
                   ClaimVersion.payee_account_enc, ClaimVersion.payee_account_masked)
            .order_by(ClaimVersion.claim_id, ClaimVersion.file_name)
        ).all()
    assert [(v[0], v[1], v[2]) for v in versions] == [
        ("CL-0001", "a.csv", 45000), ("CL-0001", "b.csv", 52000), ("CL-2", "a.csv", 45000), ("CL-3", "b.csv", 45000),
    ]
    stored = " ".join(str(value) for version in versions for value in version)
    assert "张三" not in stored and f.ACCOUNT not in stored
    assert versions[0][5] == f.ACCOUNT[:6] + "*" * (len(f.ACCOUNT) - 10) + f.ACCOUNT[-4:]
    publish_day(DAY)
    assert [(r["record_id"], r["reason_code"]) for r in rejections(env)] == [("CL-3", "DUPLICATE_IN_FILE")]


def test_quality_files_balance_and_carry_no_personal_data(env: Path) -> None:
    rows = [f.order(order_id="o1"), f.order(order_id="o2", worker_id=f.wrong_check(f.WORKER))]
    drop(env, "orders", "didi", DAY, "a.csv", f.csv_text(rows).encode())
    ingest_source("orders", DAY)
    publish_day(DAY)
    quality = env / "outbox" / "quality" / f"date={DAY.isoformat()}"
    data = b"".join(p.read_bytes() for p in quality.rglob("*") if p.is_file())
    assert b"data_docs" in b"".join(str(p).encode() for p in quality.rglob("*.html"))  # Data Docs are there
    assert f.WORKER[:17].encode() not in data and "张三".encode() not in data
    report = list(csv.DictReader(io.StringIO((quality / "files.csv").read_text("utf-8"))))
    assert [(r["rows_in"], r["rows_loaded"], r["rows_rejected"], r["balanced"]) for r in report] == [("2", "1", "1", "True")]


def test_same_bytes_under_a_corrected_name_are_read(env: Path) -> None:
    good = f.csv_text([f.order(order_id="o1")]).encode()
    drop(env, "orders", "didi", DAY, "a.parquet", good)  # wrong extension: rejected for its format
    drop(env, "orders", "didi", DAY, "b.csv", good)  # the platform re-sends it correctly named
    drop(env, "orders", "didi", DAY, "c.csv", good)  # and once more: that is a re-delivery
    summary = ingest_source("orders", DAY)
    publish_day(DAY)
    assert summary["rows_loaded"] == 1
    assert [(r["source_file"].rsplit("/", 1)[1], r["reason_code"]) for r in rejections(env)] == [
        ("a.parquet", "UNREADABLE"), ("c.csv", "DUPLICATE_FILE"),
    ]


def determination_csv(rows: list[dict[str, str]]) -> bytes:
    from claims.ingest.checks import DETERMINATION_COLUMNS

    return f.csv_text(rows, DETERMINATION_COLUMNS).encode()


def drop_feed(root: Path, source: str, day: date, name: str, data: bytes) -> None:
    folder = root / "landing" / source / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    (folder / "_SUCCESS").write_bytes(b"")


def test_determinations_feed_loads_and_rejects_to_its_own_feedback(env: Path) -> None:
    good = {"claim_id": "CL-1", "platform_code": "didi", "decision": "approved", "approved_amount_fen": "120000",
            "reason": "", "decided_at": "2025-09-01T10:00:00+08:00", "decided_by": "HRSS Dongcheng"}
    rows = [
        good,
        dict(good, claim_id="CL-2", decision="rejected", approved_amount_fen="", reason="not work related"),
        dict(good, claim_id="CL-3", approved_amount_fen=""),  # approved without an amount
        dict(good, claim_id="CL-4", decision="maybe"),
        dict(good, claim_id="CL-1", platform_code="meituan"),  # another platform's claim of the same id
        dict(good),  # repeated in the file
    ]
    drop_feed(env, "determinations", DAY, "hrss.csv", determination_csv(rows))
    summary = ingest_source("determinations", DAY)
    publish_day(DAY)
    assert (summary["rows_in"], summary["rows_loaded"], summary["rows_rejected"]) == (6, 3, 3)
    path = env / "outbox" / "feedback" / "source=determinations" / f"date={DAY.isoformat()}" / "rejections.csv"
    lines = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    assert [(r["line"], r["record_id"], r["field"], r["reason_code"]) for r in lines] == [
        ("4", "CL-3", "approved_amount_fen", "MISSING_VALUE"),
        ("5", "CL-4", "decision", "UNKNOWN_CODE"),
        ("7", "CL-1", "claim_id", "DUPLICATE_IN_FILE"),
    ]
    from claims.ledger.models import Determination

    with Session(engine()) as session:
        stored = session.execute(
            select(Determination.platform_code, Determination.claim_id, Determination.approved_amount_fen)
            .order_by(Determination.line)
        ).all()
    assert [tuple(row) for row in stored] == [("didi", "CL-1", 120000), ("didi", "CL-2", None), ("meituan", "CL-1", 120000)]


def test_lowercase_x_and_spaced_documents_are_the_same_values(env: Path) -> None:
    from tests.factories import resident_id

    body = next(b for b in (f"11010519900307{i:03d}" for i in range(1000)) if resident_id(b).endswith("X"))
    upper = resident_id(body)
    drop(env, "claims", "didi", DAY, "a.csv", f.csv_text([
        f.claim(claim_id="LOW", worker_id=upper.lower(), documents=" application_form ; consent;diagnosis ;receipts;"),
        f.claim(claim_id="UP", worker_id=upper),
    ]).encode())
    summary = ingest_source("claims", DAY)
    assert summary["rows_loaded"] == 2
    with Session(engine()) as session:
        rows = dict(session.execute(select(ClaimVersion.claim_id, ClaimVersion.worker_ref)).all())
        documents = session.scalar(select(ClaimVersion.documents).where(ClaimVersion.claim_id == "LOW"))
    assert rows["LOW"] == rows["UP"]  # the same worker
    assert documents == "application_form;consent;diagnosis;receipts"


def test_monthly_declarations_load_and_reject_to_their_feed(env: Path) -> None:
    from claims.ingest.checks import DECLARATION_COLUMNS
    from claims.ledger.models import Declaration

    folder = env / "landing" / "declarations" / "platform=didi" / "month=2025-08"
    folder.mkdir(parents=True)
    good = {"platform_code": "didi", "province_code": "110000", "industry": "ride_hailing", "month": "2025-08",
            "order_count": "1200000", "premium_fen": "1200000"}
    rows = [good, dict(good, province_code="440000"), dict(good, industry="freight", province_code="310000"),
            dict(good, month="2025-07", province_code="320000"), dict(good)]
    (folder / "declaration.csv").write_bytes(f.csv_text(rows, DECLARATION_COLUMNS).encode())
    (folder / "_SUCCESS").write_bytes(b"")
    summary = ingest_source("declarations", DAY)  # September reads August too
    publish_day(DAY)
    assert (summary["rows_in"], summary["rows_loaded"], summary["rows_rejected"]) == (5, 2, 3)
    path = env / "outbox" / "feedback" / "source=declarations" / f"date={DAY.isoformat()}" / "rejections.csv"
    lines = [(r["line"], r["field"], r["reason_code"]) for r in csv.DictReader(io.StringIO(path.read_text("utf-8")))]
    assert lines == [("4", "industry", "INDUSTRY_MISMATCH"), ("5", "month", "OUTSIDE_PARTITION"),
                     ("6", "province_code", "DUPLICATE_IN_FILE")]
    assert not (env / "outbox" / "feedback" / "platform=didi" / f"date={DAY.isoformat()}" / "rejections.csv").read_text(
        "utf-8").count("\n") > 1
    with Session(engine()) as session:
        assert session.scalar(select(func.count()).select_from(Declaration)) == 2
    assert ingest_source("declarations", DAY + timedelta(days=40))["files"] == 0  # October reads Sept and Oct only
