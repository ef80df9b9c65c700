"""``claims run-day`` when things go wrong (issue 13, items 9, 10 and 11): a day
that has not begun is refused; an unreachable ledger, an unwritable outbox or a
ledger dropped mid-run end with the summary naming the failed DAG, task and cause
in one line (tracebacks in the log file it names); a second run-day waits its
turn; a published payout file that went missing is rendered again and said (through
Airflow, both are held over the runs of test_run_day.py's embedded-default test)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from claims.calendar import SHANGHAI
from claims.cli import Refused, refuse_future_day
from claims.simulate import simulate_day
from claims.store import open_store

DAY = date(2025, 9, 12)
CLAIMS_COMMAND = Path(sys.executable).parent / "claims"


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow")
    env["CLAIMS_LAKE_URL"] = str(tmp_path / "lake")
    return env


def start(env: dict[str, str], cwd: Path, day: date = DAY) -> subprocess.Popen[str]:
    return subprocess.Popen([str(CLAIMS_COMMAND), "run-day", day.isoformat()], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_day(env: dict[str, str], cwd: Path, day: date = DAY) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLAIMS_COMMAND), "run-day", day.isoformat()], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def assert_summary_without_tracebacks(done: subprocess.CompletedProcess[str]) -> Path:
    """The summary, no traceback anywhere on the terminal, and the log file it names
    holding what was left out."""
    shown = done.stdout + done.stderr
    assert "Traceback" not in shown and 'File "' not in shown, shown[-3000:]
    assert done.stdout.startswith(f"claims run-day {DAY.isoformat()}"), shown[-3000:]
    assert len(shown.splitlines()) < 60, shown
    found = re.search(r"full log \(Airflow's output, tracebacks\): (\S+)", done.stdout)
    assert found, done.stdout
    log = Path(found.group(1))
    assert log.is_file()
    return log


# -- item 9: a day that has not begun ----------------------------------------------------

def test_a_day_after_today_in_shanghai_is_refused() -> None:
    evening = datetime(2025, 9, 12, 15, 59, tzinfo=UTC)  # 23:59 on the 12th in Shanghai
    refuse_future_day(date(2025, 9, 12), evening)
    refuse_future_day(date(2025, 9, 11), evening)
    with pytest.raises(Refused, match=r"2025-09-13 is after today \(2025-09-12 in Asia/Shanghai\)"):
        refuse_future_day(date(2025, 9, 13), evening)
    refuse_future_day(date(2025, 9, 13), evening + timedelta(minutes=1))  # midnight in Shanghai, 16:00 UTC


def test_run_day_of_a_future_day_says_so_and_writes_nothing(tmp_path: Path) -> None:
    tomorrow = datetime.now(SHANGHAI).date() + timedelta(days=1)
    for day in (tomorrow, tomorrow + timedelta(days=400)):
        done = run_day(base_env(tmp_path), tmp_path, day)
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert done.stderr.startswith(f"claims run-day: refused: {day.isoformat()} is after today")
        assert len(done.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


# -- item 10: infrastructure failures ----------------------------------------------------

def test_an_unreachable_ledger_ends_with_the_summary(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env["CLAIMS_DATABASE_URL"] = "postgresql+psycopg2://claims@127.0.0.1:9/nowhere"
    done = run_day(env, tmp_path)
    assert done.returncode == 1
    log = assert_summary_without_tracebacks(done)
    assert re.search(r"\(ledger\)\s+FAILED before any DAG ran: OperationalError: .*127\.0\.0\.1.*", done.stdout)
    assert "the ledger could not be read for this summary" in done.stdout
    assert "Traceback" in log.read_text()


@pytest.mark.slow
@pytest.mark.airflow
def test_an_unwritable_outbox_names_each_failed_dag_task_and_cause(tmp_path: Path) -> None:
    simulate_day(DAY, open_store(str(tmp_path / "var" / "landing")), orders=300, seed=3, defect_share=0.02)
    (tmp_path / "not-a-folder").write_text("a file where the outbox should be")
    env = base_env(tmp_path)
    env["CLAIMS_OUTBOX_URL"] = str(tmp_path / "not-a-folder")
    done = run_day(env, tmp_path)
    assert done.returncode == 1
    log = assert_summary_without_tracebacks(done)
    failures = re.findall(r"^  (\w+)\s+FAILED task (\w+): (\w+Error): (.+)$", done.stdout, re.MULTILINE)
    assert {dag for dag, *_ in failures} >= {"ingest_orders", "ingest_claims", "adjudicate", "payouts"}, done.stdout
    assert all("not-a-folder" in cause for *_, cause in failures), failures
    assert "source" in done.stdout  # the ledger's part of the summary is still there
    assert log.read_text().count("Traceback") >= len(failures)


@pytest.mark.slow
@pytest.mark.airflow
@pytest.mark.postgres
def test_a_ledger_dropped_mid_run_ends_with_the_summary(tmp_path: Path, postgres_server: str) -> None:
    from sqlalchemy import create_engine, text

    admin_url = postgres_server.rsplit("/", 1)[0] + "/postgres"
    name = f"claims_dropped_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    simulate_day(DAY, open_store(str(tmp_path / "var" / "landing")), orders=300, seed=3, defect_share=0.02)
    env = base_env(tmp_path)
    env["CLAIMS_DATABASE_URL"] = url
    running = start(env, tmp_path)
    ledger = create_engine(url)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and running.poll() is None:  # once files are in the ledger: drop it
            try:
                with ledger.connect() as connection:
                    if connection.execute(text("SELECT count(*) FROM landing_file")).scalar():
                        break
            except Exception:  # noqa: BLE001 - not created yet
                pass
            time.sleep(0.2)
        ledger.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        stdout, stderr = running.communicate(timeout=900)
    finally:
        if running.poll() is None:
            running.kill()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    done = subprocess.CompletedProcess(running.args, running.returncode, stdout, stderr)
    assert done.returncode == 1
    assert_summary_without_tracebacks(done)
    assert re.search(r"^  \w+\s+FAILED task \w+: \w*Error: .+$", done.stdout, re.MULTILINE), done.stdout
    assert "the ledger could not be read for this summary: OperationalError" in done.stdout


# -- item 10: two run-days at once; item 11: a published file that went missing -----------

# Through Airflow, both are held over the runs of
# test_run_day.py::test_embedded_default_sqlite_and_local_folders (a second run-day
# started while its first run holds the lock; a payout file and the manifest removed
# before its re-run): three run-days fewer than a test of their own.


# -- the same, fast: without Airflow -------------------------------------------------------

def test_the_run_day_lock_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    """A second process finds the lock taken, and the claims command refuses at
    once, in one line, naming the holder; once the holder ends, the lock is free."""
    from claims_dags.runner import RunDayBusy, run_day_lock

    home = tmp_path / "airflow"
    home.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from datetime import date; from pathlib import Path; "
         "from claims_dags.runner import run_day_lock\n"
         f"with run_day_lock(Path({str(home)!r}), date(2025, 9, 11)):\n"
         "    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(RunDayBusy, match=rf"day 2025-09-11, pid {holder.pid}, started "):
            with run_day_lock(home, DAY):
                pass
        done = run_day(base_env(tmp_path), tmp_path)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith(f"claims run-day: refused: another claims run-day (day 2025-09-11, "
                                      f"pid {holder.pid}, started ") and len(done.stderr.splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
    with run_day_lock(home, DAY):  # the holder is gone (killed): free again
        assert f'"day": "{DAY.isoformat()}"' in (home / "run-day.lock").read_text()


def test_a_missing_published_payout_file_is_found_rewritten_and_said(ledger_env: Path) -> None:
    from claims.ledger.db import engine_for
    from claims.payouts import pay_day
    from claims.settings import load_settings
    from claims.summary import PublishedFiles
    from tests.payouts.test_pipeline import land_claims, run

    day = date(2025, 9, 1)
    land_claims(ledger_env, day, 3)
    run(day, auto_release=True)
    outbox_store = open_store(str(ledger_env / "outbox"))
    engine = engine_for(load_settings().database_url)
    payouts = ledger_env / "outbox" / "payouts" / f"date={day.isoformat()}"
    removed = {payouts / "manifest.json": b"", sorted(payouts.rglob("*.xml"))[0]: b""}
    for path in removed:
        removed[path] = path.read_bytes()
        path.unlink()
    published = PublishedFiles(day)
    published.look(engine, outbox_store)
    keys = sorted(path.relative_to(ledger_env / "outbox").as_posix() for path in removed)
    assert published.missing == keys
    assert published.warnings(engine, outbox_store) == [f"published file missing, not rewritten: {key}"
                                                        for key in keys]
    pay_day(day, auto_release=True)
    assert {path: path.read_bytes() for path in removed} == removed
    assert published.warnings(engine, outbox_store) == [
        f"published file was missing, rewritten byte-identical to its record: {key}" for key in keys]
    again = PublishedFiles(day)
    again.look(engine, outbox_store)
    assert again.missing == [] and again.warnings(engine, outbox_store) == []


def test_a_second_run_day_on_the_same_ledger_from_another_airflow_home_refuses(
    tmp_path: Path, ledger_url: str
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from datetime import date; from pathlib import Path; "
         "from claims_dags.runner import ledger_lock\n"
         f"with ledger_lock({ledger_url!r}, Path({str(tmp_path / 'home-a')!r}), date(2025, 9, 11)):\n"
         "    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        env = base_env(tmp_path)
        env.update({"AIRFLOW_HOME": str(tmp_path / "home-b"), "CLAIMS_DATABASE_URL": ledger_url})
        done = run_day(env, tmp_path)
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert done.stderr.startswith("claims run-day: refused: another claims run-day ")
        assert ("on this ledger" in done.stderr or "on the ledger" in done.stderr) and len(done.stderr.splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
