"""End to end: simulate a business day, ``claims run-day`` it twice through
Airflow, and hold the pipeline to the simulator's exact expectations.

Once on the embedded default (SQLite, local folders), once on PostgreSQL with
the landing zone and outbox on a real S3 server (rclone serve s3)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from claims.simulate import simulate_day
from claims.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

DAY = date(2025, 9, 12)
CLAIMS_COMMAND = Path(sys.executable).parent / "claims"


def run_day(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(CLAIMS_COMMAND), "run-day", DAY.isoformat()],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def start(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(CLAIMS_COMMAND), "run-day", DAY.isoformat()], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow")
    env["CLAIMS_LAKE_URL"] = str(tmp_path / "lake")
    return env


def check_against_simulation(report, read: Callable[[str], bytes], keys: Callable[[str], list[str]]) -> None:  # type: ignore[no-untyped-def]
    quality = json.loads(read(f"quality/date={DAY.isoformat()}/files.json"))
    by_file = {entry["file"]: entry for entry in quality["files"]}
    feedback: dict[str, set[tuple[int, str, str, str]]] = {}
    for key in keys("feedback/"):
        for row in csv.DictReader(io.StringIO(read(key).decode("utf-8"))):
            feedback.setdefault(row["source_file"], set()).add(
                (int(row["line"]), row["record_id"], row["field"], row["reason_code"])
            )
            assert row["message"]
    ingested = [f for f in report.files if f.dataset in ("orders", "claims")]
    assert len(ingested) > 20
    for expected in ingested:
        entry = by_file[expected.key]
        assert entry["balanced"], entry
        assert entry["rows_in"] == expected.rows_in, expected.key
        assert entry["rows_loaded"] + entry["rows_unchanged"] == expected.loaded_rows, expected.key
        assert entry["rows_rejected"] == expected.rejected_rows, expected.key
        assert feedback.get(expected.key, set()) == {
            (line.line, line.record_id, line.field, line.reason_code) for line in expected.lines
        }, expected.key
    codes = {code for lines in feedback.values() for (_l, _r, _f, code) in lines}
    assert {"DUPLICATE_FILE", "UNDECODABLE", "MISSING_COLUMN", "MALFORMED_ROW", "INVALID_RESIDENT_ID"} <= codes
    decided = list(csv.DictReader(io.StringIO(read(f"decisions/date={DAY.isoformat()}/decisions.csv").decode("utf-8"))))
    claimed = {line.record_id for report_file in ingested if report_file.dataset == "claims" for line in report_file.lines}
    assert decided and len({(d["platform_code"], d["claim_id"]) for d in decided}) == len(decided)
    assert {d["outcome"] for d in decided} <= {"fast_track", "standard_review", "pending", "rejected"}
    assert "fast_track" in {d["outcome"] for d in decided}
    assert not claimed & {d["claim_id"] for d in decided if d["outcome"] == "fast_track"}  # a rejected row decides nothing
    manifest = json.loads(read(f"payouts/date={DAY.isoformat()}/manifest.json"))
    fast = [d for d in decided if d["outcome"] == "fast_track"]
    assert manifest["item_count"] == len(fast) and manifest["automatic_release"] is True
    from claims.payouts.pain001 import validate_pain001

    for entry in manifest["files"]:
        data = read(entry["path"])
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        if entry["path"].endswith(".xml"):
            validate_pain001(data)
    validations = json.loads(read(f"quality/date={DAY.isoformat()}/validations.json"))
    assert validations and all(v["agrees_with_exact_checks"] for v in validations), [
        v["disagreements"] for v in validations if not v["agrees_with_exact_checks"]
    ]


def test_embedded_default_sqlite_and_local_folders(tmp_path: Path) -> None:
    """The day against the simulation, and a re-run that reads nothing and changes
    nothing. Over the same runs: while the first holds the lock, a second run-day
    refuses at once, naming it (issue 13, item 10); a payout file and the manifest
    removed before the re-run are rendered again byte-identical and listed under
    WARNINGS, and a third run has nothing to warn of (item 11). Those two were a
    test of their own in test_run_day_faults.py, three more run-days."""
    report = simulate_day(DAY, open_store(str(tmp_path / "var" / "landing")), orders=3000, seed=3, defect_share=0.02)
    env = base_env(tmp_path)
    running = start(env, tmp_path)
    lock = tmp_path / "airflow" / "run-day.lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline and running.poll() is None:
        time.sleep(0.1)
    refused = subprocess.run([str(CLAIMS_COMMAND), "run-day", DAY.isoformat()], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=600)
    stdout, stderr = running.communicate(timeout=900)
    assert running.returncode == 0, stdout[-3000:] + stderr[-3000:]
    assert refused.returncode == 2 and refused.stdout == "", refused.stderr
    assert refused.stderr.startswith(f"claims run-day: refused: another claims run-day (day {DAY.isoformat()}, "
                                     f"pid {running.pid}, started ")
    assert len(refused.stderr.splitlines()) == 1
    assert "ingest_orders" in stdout and "FAILED" not in stdout
    outbox = tmp_path / "var" / "outbox"

    def read(key: str) -> bytes:
        return (outbox / key).read_bytes()

    def keys(prefix: str) -> list[str]:
        return sorted(p.relative_to(outbox).as_posix() for p in (outbox / prefix).rglob("*") if p.is_file())

    check_against_simulation(report, read, keys)
    notes = dict(sqlite3.connect(tmp_path / "airflow" / "airflow.db").execute(
        "SELECT r.dag_id, n.content FROM dag_run r JOIN dag_run_note n ON n.dag_run_id = r.id").fetchall())
    manifest = json.loads(read(f"payouts/date={DAY.isoformat()}/manifest.json"))  # what was released
    assert notes["adjudicate"].splitlines()[1].startswith("Decided: fast_track ")
    fen = manifest["control_sum_fen"]
    assert notes["payouts"].splitlines()[1] == (
        f"Paid: {manifest['item_count']:,} item(s), {fen // 100:,}.{fen % 100:02d} yuan in "
        f"{manifest['batch_count']:,} batch(es), released")
    assert notes["reports"].splitlines()[1].startswith("Payouts tie out in every province")
    assert not any("FAILED" in note for note in notes.values())
    before = {key: read(key) for key in keys("") if not key.startswith("quality/")}
    database = (tmp_path / "var" / "claims.db").stat().st_size

    payouts = outbox / "payouts" / f"date={DAY.isoformat()}"
    missing = [payouts / "manifest.json", sorted(payouts.rglob("*.xml"))[0]]
    for path in missing:
        path.unlink()
    second = run_day(env, tmp_path)
    assert "new files read by this run: 0" in second.stdout
    after = {key: read(key) for key in keys("") if not key.startswith("quality/")}
    assert after == before  # the removed files too: rewritten byte-identical
    assert (tmp_path / "var" / "claims.db").stat().st_size == database
    warnings = second.stdout.split("WARNINGS (2):\n", 1)[1].splitlines()[:2]
    assert sorted(warnings) == sorted(
        f"  published file was missing, rewritten byte-identical to its record: {path.relative_to(outbox).as_posix()}"
        for path in missing)
    third = run_day(env, tmp_path)
    assert "WARNINGS" not in third.stdout


@pytest.mark.postgres
@pytest.mark.s3
def test_postgresql_with_landing_and_outbox_on_s3(
    tmp_path: Path, postgres_server: str, s3_bucket_env: tuple[str, object]
) -> None:
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_server)
    bucket, _server = s3_bucket_env
    landing_url, outbox_url = f"s3://{bucket}/landing", f"s3://{bucket}/outbox"
    report = simulate_day(DAY, open_store(landing_url), orders=2000, seed=5, defect_share=0.02)
    env = base_env(tmp_path)
    env.update({"CLAIMS_DATABASE_URL": postgres_server, "CLAIMS_LANDING_URL": landing_url,
                "CLAIMS_OUTBOX_URL": outbox_url})
    run_day(env, tmp_path)
    outbox = open_store(outbox_url)

    def keys(prefix: str) -> list[str]:
        return [obj.key for obj in outbox.list(prefix)]

    check_against_simulation(report, outbox.read_bytes, keys)
    before = {key: outbox.read_bytes(key) for key in keys("") if not key.startswith("quality/")}
    run_day(env, tmp_path)
    assert {key: outbox.read_bytes(key) for key in keys("") if not key.startswith("quality/")} == before


def test_a_failed_task_makes_run_day_exit_non_zero(tmp_path: Path) -> None:
    """dag.test() only logs a task's exception: the exit code must come from task states."""
    env = base_env(tmp_path)
    env.update({"CLAIMS_LANDING_URL": "s3://nowhere/landing", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_MAX_ATTEMPTS": "1"})
    done = subprocess.run(
        [str(CLAIMS_COMMAND), "run-day", DAY.isoformat()], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "FAILED" in done.stdout and "partitions_arrived" in done.stdout
