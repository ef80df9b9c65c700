"""The business days in real Airflow: ``claims run-day`` writes two days into a
metadata database, then Airflow itself (api-server, scheduler with the
LocalExecutor, dag-processor) starts on that database, the DAGs are unpaused and
Airflow's own backfill (REST API ``POST /api/v2/backfills``) runs the same two
days again through the scheduler, while the scheduler also makes its first
scheduled run (yesterday's, for which nothing was delivered).

One module-scoped world, several checks over it: the backfill renders the same
bytes as run-day did and pays nothing twice; every run names its business day
(partition key) in the REST API; a consumer run consumed exactly its day's
events; missing data ends a run as failed, without retry, with a note naming
the partitions; unpausing released nothing; task logs are readable through the
API; a screenshot of the runs list is taken in headless Chromium.

Two days by default, not a week: on two shared cores each day costs about 70 s
of run-day and, under the scheduler, about a minute and a half of task processes
(23 a day; yesterday's lineage adds as many): the module took 8-9.5 minutes as it
is. ``CLAIMS_TEST_BACKFILL_DAYS=7`` backfills a week (about 12 minutes more);
``-m "not scheduler"`` leaves the module out of a quick run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from claims.simulate import simulate_day
from claims.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.scheduler]

#: The backfilled days (run-day first): two by default, ``CLAIMS_TEST_BACKFILL_DAYS=7`` for a week.
DAYS = tuple(date(2025, 9, 12) - timedelta(days=n)
             for n in reversed(range(max(2, int(os.environ.get("CLAIMS_TEST_BACKFILL_DAYS", "2"))))))
#: Not delivered on the first day: expected by default (orders of every platform).
WITHHELD = f"orders/platform=didi/date={DAYS[0].isoformat()}/"
DAG_IDS = ("ingest_orders", "ingest_claims", "ingest_determinations", "ingest_bank_returns", "ingest_declarations",
           "adjudicate", "payouts", "reports")
INGEST = DAG_IDS[:5]
#: What each consumer waits for (its PartitionedAssetTimetable's assets).
CONSUMES = {
    "adjudicate": {"claims://ledger/orders", "claims://ledger/claims", "claims://ledger/determinations"},
    "payouts": {"claims://ledger/decisions", "claims://ledger/bank_returns"},
    "reports": {"claims://ledger/payouts", "claims://ledger/declarations"},
}
BIN = Path(sys.executable).parent
FINISHED = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class World:
    root: Path
    env: dict[str, str]
    api: str
    outbox_before: dict[str, str] = field(default_factory=dict)
    outbox_after: dict[str, str] = field(default_factory=dict)
    ledger_before: dict[str, int] = field(default_factory=dict)
    ledger_after: dict[str, int] = field(default_factory=dict)
    screenshot: Path | None = None
    screenshot_error: str = ""

    def get(self, path: str, **params: object) -> dict:
        import httpx

        response = httpx.get(self.api + path, params=params, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.json()

    def send(self, method: str, path: str, body: dict) -> None:
        """A write; a 5xx (SQLite busy) is tried again, a 409 means an earlier try went through."""
        import httpx

        for attempt in range(5):
            response = httpx.request(method, self.api + path, json=body, timeout=60)
            if response.status_code < 300 or response.status_code == 409 and attempt:
                return
            if response.status_code < 500:
                break
            time.sleep(3)
        raise AssertionError((method, path, response.status_code, response.text[:500]))

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]


def outbox_digests(outbox: Path) -> dict[str, str]:
    """sha256 of every output of the two days (quality/ is exempt from byte identity)."""
    wanted = tuple(f"date={day.isoformat()}" for day in DAYS)
    return {path.relative_to(outbox).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(outbox.rglob("*")) if path.is_file()
            and any(part in wanted for part in path.parts) and "quality" not in path.parts}


def ledger_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in ("payout_item", "payout_batch", "payout_release", "ledger_transaction", "decision")}


def start(command: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "wb")  # noqa: SIM115 - closed when the process ends
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(condition, timeout: float, what: str, interval: float = 2.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as error:  # noqa: BLE001 - not up yet
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("airflow-world")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW"))}
    env.update({
        "AIRFLOW_HOME": str(root / "airflow"),
        "CLAIMS_LAKE_URL": str(root / "var" / "lake"),
        # the scheduler's first run is yesterday's: its cut-offs have passed whatever the clock says
        "CLAIMS_ARRIVAL_CUTOFF": "00:00",
        "CLAIMS_PAYOUT_CUTOFF": "0 0 * * *",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    landing = open_store(str(root / "var" / "landing"))
    for number, day in enumerate(DAYS):
        simulate_day(day, landing, orders=300, seed=11 + number, defect_share=0.02)
    (root / "var" / "landing" / WITHHELD / "_SUCCESS").unlink()

    for day in DAYS:
        done = subprocess.run([str(BIN / "claims"), "run-day", day.isoformat()], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    outbox, ledger = root / "var" / "outbox", root / "var" / "claims.db"
    world = World(root, env, f"http://127.0.0.1:{port}")
    world.outbox_before, world.ledger_before = outbox_digests(outbox), ledger_counts(ledger)

    from claims_dags import DAGS_FOLDER

    airflow_env = {**env,
                   "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
                   "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                   "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow' / 'airflow.db'}",
                   "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                   "AIRFLOW__CORE__PARALLELISM": "2",
                   "AIRFLOW__API__PORT": str(port),
                   "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{world.api}/execution/",
                   "AIRFLOW__API_AUTH__JWT_SECRET": "claims-e2e-test-secret-" + "0" * 16,
                   "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                   "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                   "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5"}
    logs = root / "process-logs"
    logs.mkdir()
    processes = [start([str(BIN / "airflow"), *command], airflow_env, logs / f"{command[0]}.log", root)
                 for command in (["api-server", "--port", str(port)], ["scheduler"], ["dag-processor"])]
    try:
        wait_for(lambda: len(world.get("/api/v2/dags", limit=50)["dags"]) >= len(DAG_IDS), 180,
                 "the api-server and the DAGs")
        # the backfills first, while every DAG is paused (SQLite has one writer: the
        # scheduler's work after unpausing would make these requests wait)
        for dag_id in INGEST:
            world.send("POST", "/api/v2/backfills", {
                "dag_id": dag_id, "from_date": f"{DAYS[0].isoformat()}T00:00:00+08:00",
                "to_date": f"{DAYS[-1].isoformat()}T12:00:00+08:00", "reprocess_behavior": "completed",
                "max_active_runs": 1,
            })
        for dag_id in DAG_IDS:
            world.send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

        def settled() -> bool:
            runs = [run for dag_id in DAG_IDS for run in world.runs(dag_id)]
            backfilled = [run for run in runs if run["run_type"] != "manual"
                          and run["partition_key"] in {day.isoformat() for day in DAYS}]
            return (len(backfilled) == len(DAG_IDS) * len(DAYS)
                    and all(run["state"] in FINISHED for run in runs))

        wait_for(settled, 900, "every backfilled and scheduled run to finish", interval=5)
        world.outbox_after, world.ledger_after = outbox_digests(outbox), ledger_counts(ledger)
        world.screenshot, world.screenshot_error = screenshot(world, root / "runs-list.png")
        yield world
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)


def screenshot(world: World, path: Path) -> tuple[Path | None, str]:
    """The ingest_orders runs list in headless Chromium (the UI needs its scripts: a
    virtual time budget lets the page load its data before the shot)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None, "chromium is not installed (apt-get install chromium)"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={path.parent / 'chromium-profile'}", "--window-size=1600,1000",
         "--virtual-time-budget=20000", f"--screenshot={path}", f"{world.api}/dags/ingest_orders/runs"],
        capture_output=True, text=True, timeout=180)
    if done.returncode != 0 or not path.exists():
        return None, done.stderr[-2000:]
    return path, ""


# --------------------------------------------------------------------------- #
# Backfill: the same bytes, nothing paid twice
# --------------------------------------------------------------------------- #


def test_airflow_backfill_renders_the_same_bytes_as_run_day(world: World) -> None:
    assert len(world.outbox_before) > 20, sorted(world.outbox_before)
    assert any(key.startswith("payouts/") and key.endswith("manifest.json") for key in world.outbox_before)
    changed = {key for key in world.outbox_before if world.outbox_after.get(key) != world.outbox_before[key]}
    added = set(world.outbox_after) - set(world.outbox_before)
    assert not changed and not added, (sorted(changed), sorted(added))


def test_airflow_backfill_pays_nothing_twice(world: World) -> None:
    before, after = world.ledger_before, world.ledger_after
    assert before["payout_item"] > 0
    # (decisions may grow: the scheduler's own run of yesterday looks at pending claims again)
    for table in ("payout_item", "payout_batch", "payout_release", "ledger_transaction"):
        assert after[table] == before[table], (table, before, after)


# --------------------------------------------------------------------------- #
# Every run names its business day; consumers consume exactly that day
# --------------------------------------------------------------------------- #


def test_every_run_names_its_business_day(world: World) -> None:
    for dag_id in DAG_IDS:
        runs = world.runs(dag_id)
        assert runs, dag_id
        for run in runs:
            key = run["partition_key"]
            assert key and date.fromisoformat(key).isoformat() == key, (dag_id, run["dag_run_id"], key)
            assert run["note"] and run["note"].startswith(f"Business day {key}"), (dag_id, run["note"])
            assert run["start_date"] and run["end_date"] and run["start_date"] <= run["end_date"]
        by_day = {run["partition_key"] for run in runs if run["triggering_user_name"] == "claims run-day"}
        assert by_day == {day.isoformat() for day in DAYS}, dag_id
        run_day = [run for run in runs if run["triggering_user_name"] == "claims run-day"]
        assert {(run["run_type"], run["triggered_by"]) for run in run_day} == {("manual", "cli")}
        # run-day's runs lasted seconds, not the 428 days of a logical date in the past
        assert all(run["duration"] < 600 for run in run_day), [run["duration"] for run in run_day]


def test_producers_are_backfilled_and_consumers_are_asset_triggered_per_day(world: World) -> None:
    days = {day.isoformat() for day in DAYS}
    for dag_id in DAG_IDS:
        kinds = {run["run_type"] for run in world.runs(dag_id) if run["partition_key"] in days}
        expected = "backfill" if dag_id in INGEST else "asset_triggered"
        assert kinds == {"manual", expected}, (dag_id, kinds)
        for day in days:  # one run per day and kind: a consumer ran once for the day
            assert len([r for r in world.runs(dag_id) if r["partition_key"] == day and r["run_type"] == expected]) == 1


def test_a_consumer_run_consumed_exactly_its_days_events(world: World) -> None:
    for dag_id, assets in CONSUMES.items():
        for run in world.runs(dag_id):
            if run["run_type"] != "asset_triggered":
                continue
            events = world.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run['dag_run_id'], safe='')}"
                               "/upstreamAssetEvents")["asset_events"]
            assert {event["uri"] for event in events} == assets, (dag_id, run["partition_key"])
            assert {event["partition_key"] for event in events} == {run["partition_key"]}, (dag_id, events)


def test_asset_events_carry_the_business_day(world: World) -> None:
    events = world.get("/api/v2/assets/events", limit=500)["asset_events"]
    assert events
    for event in events:
        assert event["partition_key"] == event["extra"]["business_date"], event


# --------------------------------------------------------------------------- #
# Missing data is never green; unpausing pays and releases nothing
# --------------------------------------------------------------------------- #


def test_a_day_with_an_expected_partition_missing_fails_without_retry_and_says_which(world: World) -> None:
    backfilled = [run for run in world.runs("ingest_orders")
                  if run["run_type"] == "backfill" and run["partition_key"] == DAYS[0].isoformat()]
    assert [run["state"] for run in backfilled] == ["failed"]
    run = backfilled[0]
    assert WITHHELD in run["note"], run["note"]
    tasks = world.get(f"/api/v2/dags/ingest_orders/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances")
    states = {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in tasks["task_instances"]}
    assert states["check_arrivals"] == ("failed", 1), states  # no retry: waiting was the sensor's job
    assert states["ingest"][0] == "success", states  # what arrived was loaded (and its event emitted)
    log = world.get(f"/api/v2/dags/ingest_orders/dagRuns/{quote(run['dag_run_id'], safe='')}"
                    "/taskInstances/check_arrivals/logs/1")
    assert WITHHELD in json.dumps(log["content"]), log
    # run-day reported the same partition without failing (CONTRACT.md: it does not wait)
    run_day = [r for r in world.runs("ingest_orders")
               if r["triggering_user_name"] == "claims run-day" and r["partition_key"] == DAYS[0].isoformat()]
    assert [r["state"] for r in run_day] == ["success"] and WITHHELD in run_day[0]["note"]


def test_unpausing_ran_yesterday_and_released_nothing(world: World) -> None:
    scheduled = [run for run in world.runs("ingest_orders") if run["run_type"] == "scheduled"]
    # catchup is off: one run, for the day that just ended (two if the test straddled 02:00 in Shanghai)
    assert 1 <= len(scheduled) <= 2, scheduled
    for run in scheduled:
        assert run["state"] == "failed" and "NOT ARRIVED" in run["note"], run
        yesterday = run["partition_key"]
        payouts = [p for p in world.runs("payouts") if p["partition_key"] == yesterday]
        assert [p["run_type"] for p in payouts] in ([], ["asset_triggered"]), payouts
        manifest = world.root / "var" / "outbox" / "payouts" / f"date={yesterday}" / "manifest.json"
        assert not manifest.exists(), "the scheduler released payouts nobody approved"
    assert any(p["partition_key"] == scheduled[0]["partition_key"] for p in world.runs("payouts"))
    decided = {event["partition_key"] for event in world.get("/api/v2/assets/events", limit=500)["asset_events"]
               if event["uri"] == "claims://ledger/decisions"}
    assert {run["partition_key"] for run in world.runs("payouts")} <= decided


def test_run_day_task_logs_are_readable_through_the_api(world: World) -> None:
    run = next(r for r in world.runs("ingest_orders")
               if r["triggering_user_name"] == "claims run-day" and r["partition_key"] == DAYS[0].isoformat())
    log = world.get(f"/api/v2/dags/ingest_orders/dagRuns/{quote(run['dag_run_id'], safe='')}"
                    "/taskInstances/check_arrivals/logs/1")
    text = json.dumps(log["content"])
    assert "not arrived" in text and WITHHELD in text, text[:2000]


def test_a_screenshot_of_the_runs_list(world: World) -> None:
    if world.screenshot is None:
        from tests.conftest import in_ci

        if in_ci():
            pytest.fail(world.screenshot_error, pytrace=False)
        pytest.skip(world.screenshot_error)
    assert world.screenshot.stat().st_size > 20_000, world.screenshot
    print(f"runs list screenshot: {world.screenshot}")
