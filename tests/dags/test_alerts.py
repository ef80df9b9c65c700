"""Every alert fires through Airflow's own machinery (issue 15, item 4).

tests/dags/alerts_probe.py runs in a fresh process on a SQLite metadata database
in a temporary folder, with a local SMTP server behind the connection
``smtp_default``: a task failure through ``FAILURE_NOTIFIERS`` (``dag.test()``),
and both deadline alerts from their ``deadline`` rows (made by ``create_dagrun``
with the plugin's reference, as the scheduler makes them) through the scheduler
loop's deadline step and ``CallbackTrigger``, the triggerer's trigger for them.
What is not run: the scheduler and triggerer processes themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.airflow

PROBE = Path(__file__).with_name("alerts_probe.py")
LATE_DAY = "2025-09-30"
#: a day whose deadlines (the next day, early morning) are still ahead
TIMELY_DAY = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("alerts")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW"))}
    env.update({
        "CLAIMS_ALERT_EMAIL": "ops@example.org, finance@example.org",
        # the scheduler's environment wins; the margin comes from an Airflow variable
        "CLAIMS_INGEST_DEADLINE": "06:30",
        "AIRFLOW_VAR_CLAIMS_PAYOUTS_DEADLINE_MARGIN_MINUTES": "45",
    })
    done = subprocess.run([sys.executable, str(PROBE), str(work), LATE_DAY, TIMELY_DAY], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_failed_task_writes_one_json_line_and_mails_it(probe: dict) -> None:
    assert probe["failure_run"]["state"] == "failed"
    [line] = [alert for alert in probe["alerts"] if alert["alert"] == "task_failed"]
    assert line == {"alert": "task_failed", "dag": "probe_failure", "task": "pay", "run": probe["failure_run"]["run_id"],
                    "business_date": LATE_DAY, "cause": "RuntimeError: ledger unreachable: connection refused"}
    [mail] = [mail for mail in probe["mails"] if "task_failed" in mail["subject"]]
    assert mail["to"] == ["ops@example.org", "finance@example.org"] and mail["from"] == "claims@example.org"
    assert mail["subject"] == f"[claims] task_failed: probe_failure pay business day {LATE_DAY}"
    assert "ledger unreachable" in mail["body"]


def test_deadlines_are_the_business_days_cutoff_and_hour_in_shanghai(probe: dict) -> None:
    def utc(day: str, hour: int, minute: int) -> str:
        local = datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Shanghai"))
        return (local + timedelta(hours=hour, minutes=minute)).astimezone(ZoneInfo("UTC")).isoformat()

    expected = sorted([{"day": day, "deadline": utc(day, hour, minute)}
                       for day in (LATE_DAY, TIMELY_DAY) for hour, minute in ((3, 45), (6, 30))],
                      key=lambda row: (row["day"], row["deadline"]))
    assert probe["deadlines_created"] == expected  # payouts: cut-off 03:00 + 45 min; ingestion: 06:30


def test_a_run_that_ends_in_time_drops_its_deadlines_and_a_late_one_keeps_them(probe: dict) -> None:
    assert set(probe["deadline_runs"].values()) == {"success"} and len(probe["deadline_runs"]) == 3
    assert probe["deadlines_left"] == [LATE_DAY, LATE_DAY]


def test_a_manual_rerun_or_a_backfill_of_a_past_day_is_not_late() -> None:
    from claims_dags._alerts import deadline_applies

    now = datetime(2026, 1, 2, tzinfo=ZoneInfo("UTC"))
    past, ahead = now - timedelta(days=1), now + timedelta(hours=1)
    assert deadline_applies("scheduled", past, now) and deadline_applies("asset_triggered", past, now)
    assert deadline_applies("manual", ahead, now) and not deadline_applies("manual", past, now)
    assert not deadline_applies("backfill", ahead, now)


def test_missed_deadlines_fire_in_the_triggerer_as_log_lines_and_mails(probe: dict) -> None:
    assert sorted(c["kind"] for c in probe["callbacks"]) == ["ingestion_late", "payouts_late"]
    assert {(c["type"], c["state"], c["path"]) for c in probe["callbacks"]} == {
        ("TriggererCallback", "queued", "claims_dags._alerts.ClaimsAlertNotifier")}
    assert probe["trigger_events"] == ["running", "success"] * 2
    late = {alert["alert"]: alert for alert in probe["alerts"] if alert["alert"].endswith("_late")}
    assert set(late) == {"payouts_late", "ingestion_late"}
    for kind, hour in (("payouts_late", "19:45"), ("ingestion_late", "22:30")):
        assert late[kind]["business_date"] == LATE_DAY and late[kind]["dag"] == "probe_deadlines"
        assert late[kind]["deadline"] == f"{LATE_DAY}T{hour}:00+00:00"
        assert late[kind]["run"] == f"scheduled__probe_{LATE_DAY}"
        assert late[kind]["cause"] == f"not finished by {LATE_DAY}T{hour}:00+00:00"
    subjects = sorted(mail["subject"] for mail in probe["mails"] if "_late" in mail["subject"])
    assert subjects == [f"[claims] ingestion_late: probe_deadlines business day {LATE_DAY}",
                        f"[claims] payouts_late: probe_deadlines business day {LATE_DAY}"]


def test_a_cron_cutoff_and_an_hour_give_the_next_days_moment() -> None:
    from claims_dags._alerts import time_after

    day = date(2025, 9, 30)
    assert time_after(day, "0 3 * * *").isoformat() == "2025-10-01T03:00:00+08:00"
    assert time_after(day, "30 23 * * *").isoformat() == "2025-10-01T23:30:00+08:00"
    assert time_after(day, "07:15").isoformat() == "2025-10-01T07:15:00+08:00"


WIRING_PROBE = """
import json, os, sys, tempfile
home = tempfile.mkdtemp()
os.environ.update(AIRFLOW_HOME=home, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db")
from claims_dags.runner import prepare_airflow_environment
prepare_airflow_environment()
from airflow.dag_processing.dagbag import DagBag
from claims_dags import DAGS_FOLDER
from claims_dags._alerts import ClaimsAlertNotifier
bag = DagBag(str(DAGS_FOLDER))
assert not bag.import_errors, bag.import_errors
def callbacks(task):
    value = task.on_failure_callback
    return value if isinstance(value, (list, tuple)) else [value]
print(json.dumps({dag.dag_id: {
    "deadlines": sorted(alert.callback.kwargs["kind"] for alert in (dag.deadline or [])),
    "unalerted": [t.task_id for t in dag.tasks if not any(isinstance(c, ClaimsAlertNotifier) for c in callbacks(t))],
} for dag in bag.dags.values()}))
"""


def test_the_dags_carry_the_notifier_and_their_deadlines(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW"))}
    done = subprocess.run([sys.executable, "-c", WIRING_PROBE], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    wiring = json.loads(done.stdout.strip().splitlines()[-1])
    assert {dag_id: w["unalerted"] for dag_id, w in wiring.items() if w["unalerted"]} == {}
    assert {dag_id: w["deadlines"] for dag_id, w in wiring.items() if w["deadlines"]} == {
        **{f"ingest_{source}": ["ingestion_late"]
           for source in ("orders", "claims", "determinations", "bank_returns", "declarations")},
        "payouts": ["payouts_late"],
    }
