"""Ingestion fixes of issues 12 and 13, end to end on SQLite and PostgreSQL: an
order id re-used on another date, a file replaced under the same name, every
object of a marked partition accounted for, hostile names, and rejection
messages that never quote personal data."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.ingest import ingest_source, publish_day
from claims.ledger.db import engine_for
from claims.ledger.models import LandingFile
from claims.settings import load_settings
from tests import factories as f
from tests.ingest.test_pipeline import drop, rejections

DAY = date(2025, 9, 1)
BEFORE = DAY - timedelta(days=1)


@pytest.fixture
def env(ledger_env: Path) -> Path:
    return ledger_env


def engine():  # type: ignore[no-untyped-def]
    return engine_for(load_settings().database_url)


def order_on(day: date, **changes: str) -> dict[str, str]:
    return f.order(accepted_at=f"{day.isoformat()}T12:00:00+08:00", completed_at=f"{day.isoformat()}T12:40:00+08:00",
                   **changes)


# -- issue 12, item 3: an order id re-used on another date ------------------------------
def test_an_order_id_reused_on_another_date_is_rejected(env: Path) -> None:
    drop(env, "orders", "didi", BEFORE, "a.csv", f.csv_text([order_on(BEFORE, order_id="o1"),
                                                              order_on(BEFORE, order_id="o2")]).encode())
    drop(env, "orders", "didi", DAY, "b.csv", f.csv_text([order_on(DAY, order_id="o3"),  # ids in no order
                                                           order_on(DAY, order_id="o1")]).encode())
    drop(env, "orders", "meituan", DAY, "c.csv", f.csv_text([order_on(
        DAY, order_id="o1", platform_code="meituan", industry="instant_delivery")]).encode())  # another platform's o1
    summary = ingest_source("orders", DAY)
    publish_day(DAY)
    assert (summary["rows_in"], summary["rows_loaded"], summary["rows_rejected"]) == (5, 4, 1)
    assert [(r["source_file"].rsplit("/", 1)[1], r["line"], r["record_id"], r["reason_code"])
            for r in rejections(env)] == [("b.csv", "3", "o1", "ORDER_ID_REUSED")]
    assert rejections(env, "meituan") == []
    # A re-run loads nothing and the identical re-sent row of the first date is unchanged.
    drop(env, "orders", "didi", BEFORE, "a2.csv", f.csv_text([order_on(BEFORE, order_id="o1")]).encode())
    again = ingest_source("orders", DAY)
    assert (again["rows_in"], again["rows_loaded"], again["rows_unchanged"], again["rows_rejected"]) == (1, 0, 1, 0)


def test_the_reuse_lookup_reads_only_files_whose_id_range_overlaps(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from claims.ingest import pipeline

    drop(env, "orders", "didi", BEFORE - timedelta(days=1), "a.csv",
         f.csv_text([order_on(BEFORE - timedelta(days=1), order_id=f"DD-0830-{i}") for i in range(3)]).encode())
    drop(env, "orders", "didi", BEFORE, "b.csv",
         f.csv_text([order_on(BEFORE, order_id=f"DD-0831-{i}") for i in range(3)]).encode())
    read: list[str] = []
    real = pipeline.overlapping_ids

    def counting(lake, key, low, high):  # type: ignore[no-untyped-def]
        read.append(key)
        return real(lake, key, low, high)

    monkeypatch.setattr(pipeline, "overlapping_ids", counting)
    ingest_source("orders", BEFORE)
    assert read == []  # ids that grow with time: the new day overlaps no earlier file
    with Session(engine()) as session:
        ranges = session.execute(select(LandingFile.order_id_min, LandingFile.order_id_max)
                                 .order_by(LandingFile.id)).all()
    assert [tuple(r) for r in ranges] == [("DD-0830-0", "DD-0830-2"), ("DD-0831-0", "DD-0831-2")]
    drop(env, "orders", "didi", DAY, "c.csv",
         f.csv_text([order_on(DAY, order_id=i) for i in ("DD-0830-1x", "DD-0830-9")]).encode())
    summary = ingest_source("orders", DAY)
    assert len(read) == 1 and read[0].endswith(".parquet") and "date=2025-08-30" in read[0]
    assert summary["rows_loaded"] == 2  # DD-0830-1x lies in the range but was never used


# -- issue 12, item 4: a file is its bytes; every object is accounted for -----------------
def replace(root: Path, source: str, day: date, name: str, data: bytes) -> None:
    """Replace an object under the same key, as a platform's re-upload would (a later
    modification time)."""
    import os

    path = root / "landing" / source / "platform=didi" / f"date={day.isoformat()}" / name
    before = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))


def test_an_order_file_replaced_with_other_bytes_of_the_same_size_is_read_again(env: Path) -> None:
    first = f.csv_text([f.order(order_id="o1")]).encode()
    second = f.csv_text([f.order(order_id="o2")]).encode()
    assert len(first) == len(second) and first != second
    drop(env, "orders", "didi", DAY, "a.csv", first)
    assert ingest_source("orders", DAY)["rows_loaded"] == 1
    replace(env, "orders", DAY, "a.csv", second)
    summary = ingest_source("orders", DAY)
    assert (summary["files"], summary["rows_loaded"]) == (1, 1)
    with Session(engine()) as session:
        assert session.scalar(select(func.count()).select_from(LandingFile)) == 2
    replace(env, "orders", DAY, "a.csv", second)  # the same bytes written again: nothing to load
    assert ingest_source("orders", DAY)["files"] == 0
    replace(env, "orders", DAY, "a.csv", first)  # back to bytes this key delivered before
    assert ingest_source("orders", DAY)["files"] == 0


def test_same_bytes_rewritten_are_hashed_once_then_known_by_their_version(env: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from claims.ingest import pipeline

    drop(env, "orders", "didi", DAY, "a.csv", f.csv_text([f.order(order_id="o1")]).encode())
    ingest_source("orders", DAY)
    hashed: list[Path] = []
    real = pipeline.scan_file

    def counting(path, fmt):  # type: ignore[no-untyped-def]
        hashed.append(path)
        return real(path, fmt)

    monkeypatch.setattr(pipeline, "scan_file", counting)
    assert ingest_source("orders", DAY)["files"] == 0 and hashed == []  # same size and version: not hashed
    replace(env, "orders", DAY, "a.csv", f.csv_text([f.order(order_id="o1")]).encode())
    assert ingest_source("orders", DAY)["files"] == 0 and len(hashed) == 1
    assert ingest_source("orders", DAY)["files"] == 0 and len(hashed) == 1  # the new version was kept


def test_a_claims_file_replaced_under_the_same_name_rejects_changed_lines(env: Path) -> None:
    first = f.csv_text([f.claim(claim_id="CL-1"), f.claim(claim_id="CL-2")]).encode()
    second = f.csv_text([f.claim(claim_id="CL-1"), f.claim(claim_id="CL-2", medical_cost_fen="45001")]).encode()
    assert len(first) == len(second)
    drop(env, "claims", "didi", DAY, "a.csv", first)
    ingest_source("claims", DAY)
    replace(env, "claims", DAY, "a.csv", second)
    summary = ingest_source("claims", DAY)
    assert (summary["rows_in"], summary["rows_loaded"], summary["rows_unchanged"], summary["rows_rejected"]) == (2, 0, 1, 1)
    publish_day(DAY)
    assert [(r["line"], r["record_id"], r["reason_code"]) for r in rejections(env)] == [("3", "CL-2", "DUPLICATE_KEY")]


def test_every_object_of_a_marked_partition_is_in_quality_with_its_reason(env: Path) -> None:
    drop(env, "orders", "didi", DAY, "a.csv", f.csv_text([f.order(order_id="o1")]).encode())
    drop(env, "orders", "didi", DAY, ".hidden.csv", f.csv_text([f.order(order_id="o2")]).encode())
    (env / "landing" / "orders" / "platform=didi" / f"date={DAY.isoformat()}" / "sub").mkdir()
    drop(env, "orders", "didi", DAY, "sub/b.csv", f.csv_text([f.order(order_id="o3")]).encode())
    drop(env, "orders", "didi", DAY, "notes.txt", b"hello")
    drop(env, "orders", "meituan", DAY, ".x.csv", b"x", marker=False)  # no marker: not arrived, not accounted yet
    summary = ingest_source("orders", DAY)
    ingest_source("orders", DAY)  # a re-run lists them once
    publish_day(DAY)
    quality = env / "outbox" / "quality" / f"date={DAY.isoformat()}"
    report = [(r["file"].rsplit("date=2025-09-01/", 1)[1], r["status"], r["reject_code"])
              for r in csv.DictReader(io.StringIO((quality / "files.csv").read_text("utf-8")))]
    assert report == [(".hidden.csv", "skipped", "HIDDEN_FILE"), ("a.csv", "loaded", ""),
                      ("notes.txt", "rejected", "UNSUPPORTED_FORMAT"), ("sub/b.csv", "skipped", "IN_SUBFOLDER")]
    assert summary["rows_loaded"] == 1
    files = json.loads((quality / "files.json").read_text("utf-8"))["files"]
    assert [entry["status"] for entry in files] == ["skipped", "loaded", "rejected", "skipped"]


# -- issue 12 item 7, issue 13 item 5: hostile names --------------------------------------
HOSTILE_NAMES = [
    ("=HYPERLINK(\"http://x\",\"y\")", "NAME_FORMULA_PREFIX"),
    ("+cmd|' /C calc'!A0", "NAME_FORMULA_PREFIX"),
    ("-2+3", "NAME_FORMULA_PREFIX"),
    ("@SUM(1+1)", "NAME_FORMULA_PREFIX"),
    ("\t=1+1", "NAME_FORMULA_PREFIX"),
    ("\r=1+1", "NAME_FORMULA_PREFIX"),
    ("张\t三", "NAME_UNSAFE_CHARACTER"),
    ("张三\x00", "NAME_UNSAFE_CHARACTER"),
    ("张三\x1b[31m", "NAME_UNSAFE_CHARACTER"),
    ("张三\x85", "NAME_UNSAFE_CHARACTER"),
    ("张三\u202e", "NAME_UNSAFE_CHARACTER"),
    ("\u202a张三", "NAME_UNSAFE_CHARACTER"),
    ("张\u2066三\u2069", "NAME_UNSAFE_CHARACTER"),
    ("张\u200e三", "NAME_UNSAFE_CHARACTER"),
    ("张\u200f三", "NAME_UNSAFE_CHARACTER"),
    ("张\u061c三", "NAME_UNSAFE_CHARACTER"),
    ("张" * 141, "NAME_TOO_LONG"),
]
FINE_NAMES = ["张三", "阿卜杜热依木·买买提", "陈𠮷", "张" * 140, "O'Neil-Smith", "Anna Maria", "李 四"]


@pytest.mark.parametrize("source", ["orders", "claims"])
@pytest.mark.parametrize(("name", "code"), HOSTILE_NAMES)
def test_hostile_names_are_rejected_with_their_code(source: str, name: str, code: str) -> None:
    from tests.ingest.test_checks import failures

    row = f.order(worker_name=name) if source == "orders" else f.claim(worker_name=name)
    assert failures(source, row) == {("worker_name", code)}


@pytest.mark.parametrize("name", FINE_NAMES)
def test_ordinary_names_pass(name: str) -> None:
    from tests.ingest.test_checks import failures

    assert failures("orders", f.order(worker_name=name)) == set()
    assert failures("claims", f.claim(worker_name=name)) == set()


def test_hostile_names_are_rejected_end_to_end(env: Path) -> None:
    import json as _json

    names = [name for name, _code in HOSTILE_NAMES]
    rows = [{**f.claim(claim_id=f"CL-{i}"), "worker_name": name} for i, name in enumerate(names)]
    lines = "\n".join(_json.dumps(row, ensure_ascii=False) for row in rows) + "\n"
    drop(env, "claims", "didi", DAY, "a.jsonl", lines.encode())
    drop(env, "orders", "didi", DAY, "a.csv", f.csv_text([f.order(order_id="o1", worker_name="=1+1"),
                                                           f.order(order_id="o2")]).encode())
    claims = ingest_source("claims", DAY)
    orders = ingest_source("orders", DAY)
    publish_day(DAY)
    assert (claims["rows_in"], claims["rows_rejected"]) == (len(names), len(names))
    assert (orders["rows_loaded"], orders["rows_rejected"]) == (1, 1)
    found = [(r["record_id"], r["field"], r["reason_code"]) for r in rejections(env)]
    expected = {code for name, code in HOSTILE_NAMES if name in names}
    assert {code for _record, _field, code in found} == expected
    assert ("o1", "worker_name", "NAME_FORMULA_PREFIX") in found


# -- issue 13, item 7: no personal value in any rejection message ----------------------------
NAME = "欧阳娜娜"
PHONE = "13912345678"


def _personal_values(source: str) -> dict[str, str]:
    values = {"worker_id": f.WORKER, "worker_name": NAME, "phone": PHONE}
    if source == "claims":
        values["payee_account"] = f.ACCOUNT
    return values


def _placements(source: str) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """Every personal value of a row in every other column, one row each: (the rows
    the checks reject, the placements they accept)."""
    from claims.ingest import checks
    from tests.ingest.test_checks import failures

    columns = checks.ORDER_COLUMNS if source == "orders" else checks.CLAIM_COLUMNS
    key = "order_id" if source == "orders" else "claim_id"
    rejected, accepted = [], []
    for personal, value in _personal_values(source).items():
        for column in columns:
            if column == personal:
                continue
            base = f.order() if source == "orders" else f.claim()
            row = {**base, key: f"R{len(rejected) + len(accepted)}", column: value}
            if failures(source, row):
                rejected.append(row)
            else:
                accepted.append((personal, column))
    return rejected, accepted


def _everything(env: Path) -> str:
    """Every output file, every lake file and every text of every ledger table."""
    import pyarrow.parquet as pq
    from sqlalchemy import MetaData

    parts = []
    for path in sorted((env / "outbox").rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    for path in sorted((env / "lake").rglob("*.parquet")):
        parts.append(str(pq.read_table(path).to_pylist()))
    metadata = MetaData()
    with engine().connect() as connection:
        metadata.reflect(connection)
        for table in metadata.sorted_tables:
            parts.extend(str(tuple(row)) for row in connection.execute(table.select()))
    return "\n".join(parts)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_personal_values_in_wrong_columns_are_never_quoted(env: Path, fmt: str) -> None:
    import json as _json

    for source in ("orders", "claims"):
        rows, accepted = _placements(source)
        # Accepted where the contract allows such a value: an identifier, an integer, free-text
        # documents, a name (digits make a name; names are stored encrypted).
        allowed = {("orders", "order_id"), ("claims", "claim_id"), ("claims", "order_id"), ("claims", "documents"),
                   ("orders", "premium_fen"), ("claims", "inpatient_days"), ("claims", "medical_cost_fen"),
                   ("orders", "worker_name"), ("claims", "worker_name")}
        assert {(source, column) for _personal, column in accepted} <= allowed
        if fmt == "csv":
            data = f.csv_text(rows).encode()
        else:
            data = "".join(_json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
        drop(env, source, "didi", DAY, f"a.{fmt}", data)
        summary = ingest_source(source, DAY)
        assert summary["rows_rejected"] == len(rows) and summary["rows_loaded"] == 0
    publish_day(DAY)
    lines = rejections(env)
    assert len(lines) >= 60
    everything = _everything(env)
    for value in (f.WORKER, f.WORKER[:17], NAME, PHONE, f.ACCOUNT):
        assert value not in everything, value
    assert any("not quoted" in line["message"] for line in lines)


def test_record_ids_shaped_like_personal_data_are_withheld(env: Path) -> None:
    rows = [f.order(order_id=f.WORKER, worker_name="=x"), f.order(order_id=f.ACCOUNT, worker_name="=x"),
            f.order(order_id="1234567890123456", worker_name="=x"), f.order(order_id="DD-1", worker_name="=x")]
    drop(env, "orders", "didi", DAY, "a.csv", f.csv_text(rows).encode())
    ingest_source("orders", DAY)
    publish_day(DAY)
    assert [r["record_id"] for r in rejections(env)] == ["", "", "1234567890123456", "DD-1"]


@pytest.mark.parametrize(
    ("field_name", "value", "shown"),
    [
        ("injury_type", "bruise", "injury_type='bruise'"),
        ("injury_type", NAME, "injury_type not quoted (4 characters: CJK characters)"),
        ("payee_bank_code", "12345", "payee_bank_code='12345'"),
        ("payee_bank_code", f.ACCOUNT, "payee_bank_code not quoted (19 characters: digits)"),
        ("incident_city_code", f.WORKER, "incident_city_code not quoted (18 characters: digits)"),
        ("accepted_at", "2025-09-31T12:00:00+08:00", "accepted_at='2025-09-31T12:00:00+08:00'"),
        ("accepted_at", PHONE, "accepted_at not quoted (11 characters: digits)"),
        ("premium_fen", "-1", "premium_fen='-1'"),
        ("worker_name", "=1+1", "worker_name not quoted (4 characters: digits, punctuation or symbols)"),
        ("documents", "x", "documents not quoted (1 character: Latin letters)"),
    ],
)
def test_a_value_is_quoted_only_in_its_fields_own_alphabet(field_name: str, value: str, shown: str) -> None:
    from claims.ingest.messages import value_note

    assert value_note(field_name, value) == shown
