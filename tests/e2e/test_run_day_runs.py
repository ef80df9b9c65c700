"""run-day's runs in Airflow's metadata look like real runs (issue 15 item 2): keyed
by the business day, triggered from the CLI by ``claims run-day``, with real start
and end times, a note, a task log file where the UI reads it, and a second
run-day of the day keeps the first one's run. One cheap DAG (declarations: no
landing data at all) run twice through ``run_dags``, in a fresh interpreter with
its own AIRFLOW_HOME."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

DAY = "2025-09-12"
SCRIPT = r"""
import json, sys
from datetime import date
from claims_dags.runner import prepare_airflow_environment, run_dags
prepare_airflow_environment()
outcomes = [run_dags(date.fromisoformat(sys.argv[1]), ("ingest_declarations",))[0] for _ in range(2)]
print("OUTCOMES " + json.dumps([[o.dag_id, o.state, o.task_states] for o in outcomes]))
"""


@pytest.fixture(scope="module")
def metadata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run-day-runs")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW"))}
    env.update({"AIRFLOW_HOME": str(root / "airflow"), "CLAIMS_LAKE_URL": str(root / "var" / "lake")})
    done = subprocess.run([sys.executable, "-c", SCRIPT, DAY], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("OUTCOMES "))[9:])
    assert [state for _dag, state, _tasks in outcomes] == ["success", "success"], outcomes
    return root / "airflow"


def rows(home: Path, query: str) -> list[tuple]:
    with sqlite3.connect(home / "airflow.db") as connection:
        return connection.execute(query).fetchall()


def test_a_second_run_day_keeps_the_first_run(metadata: Path) -> None:
    runs = rows(metadata, "SELECT run_id, partition_key, run_type, triggered_by, triggering_user_name "
                          "FROM dag_run WHERE dag_id = 'ingest_declarations' ORDER BY id")
    assert len(runs) == 2, runs
    assert len({run_id for run_id, *_ in runs}) == 2
    assert {tuple(run[1:]) for run in runs} == {(DAY, "manual", "CLI", "claims run-day")}


def test_runs_have_real_start_and_end_times(metadata: Path) -> None:
    for start, end, logical in rows(metadata, "SELECT start_date, end_date, logical_date FROM dag_run"):
        assert logical is None
        started, ended = datetime.fromisoformat(start), datetime.fromisoformat(end)
        assert abs((datetime.now(UTC).replace(tzinfo=None) - started).total_seconds()) < 3600  # stored naive UTC
        assert 0 <= (ended - started).total_seconds() < 600


def test_every_run_has_a_note_with_its_day_and_what_did_not_arrive(metadata: Path) -> None:
    notes = rows(metadata, "SELECT n.content FROM dag_run_note n JOIN dag_run r ON r.id = n.dag_run_id")
    assert len(notes) == 2
    for (note,) in notes:
        assert note.startswith(f"Business day {DAY} (claims run-day)"), note
        assert "Every expected partition arrived." in note  # declarations are optional


def test_task_logs_are_written_where_the_ui_reads_them(metadata: Path) -> None:
    for (run_id,) in rows(metadata, "SELECT run_id FROM dag_run"):
        folder = metadata / "logs" / "dag_id=ingest_declarations" / f"run_id={run_id}"
        attempts = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("attempt=*.log"))
        assert attempts == [f"task_id={task}/attempt=1.log"
                            for task in ("check_arrivals", "ingest", "partitions_arrived", "publish")], attempts


def test_task_logs_carry_the_ingestions_own_lines(metadata: Path) -> None:
    """run-day logs at INFO as the scheduler's tasks do: the ingest task's log in the
    UI leads with the ingestion's per-step lines, not only warnings."""
    for (run_id,) in rows(metadata, "SELECT run_id FROM dag_run"):
        log = (metadata / "logs" / "dag_id=ingest_declarations" / f"run_id={run_id}" / "task_id=ingest"
               / "attempt=1.log").read_text("utf-8")
        assert "[claims.ingest]" in log, log[-2000:]
        assert "Skipping registering function" not in log
