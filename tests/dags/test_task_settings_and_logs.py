"""Configuration the Airflow way and logs an administrator can read (issue 15,
items 5 and 6), in a real task run: tests/dags/ingest_probe.py runs the
``ingest_orders`` DAG through ``dag.test()`` in a fresh process, its ledger given
as the Airflow connection ``claims_ledger`` (``AIRFLOW_CONN_CLAIMS_LEDGER``),
landing zone, lake and outbox as Airflow variables (``AIRFLOW_VAR_*``), and the
outbox also as ``CLAIMS_OUTBOX_URL``, which wins.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from claims.simulate import simulate_day
from claims.store import open_store

pytestmark = pytest.mark.airflow

PROBE = Path(__file__).with_name("ingest_probe.py")
DAY = "2025-09-30"
#: What the issue counted in an ingest log: never in a task's lines again.
CHATTER = ("Skipping registering function", "[great_expectations", "[alembic", "[py.warnings]",
           "DeprecationWarning", "FutureWarning")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[str]]:
    from datetime import date

    work = tmp_path_factory.mktemp("task-settings")
    simulate_day(date.fromisoformat(DAY), open_store(str(work / "landing")), orders=20)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW", "PYTHONWARNINGS"))}
    env.update({
        "AIRFLOW_CONN_CLAIMS_LEDGER": f"sqlite:///{work / 'from-connection.db'}",
        "AIRFLOW_VAR_CLAIMS_LANDING_URL": str(work / "landing"),
        "AIRFLOW_VAR_CLAIMS_LAKE_URL": str(work / "lake-from-variable"),
        "AIRFLOW_VAR_CLAIMS_OUTBOX_URL": str(work / "outbox-from-variable"),
        "CLAIMS_OUTBOX_URL": str(work / "outbox-from-environment"),
    })
    done = subprocess.run([sys.executable, str(PROBE), str(work), DAY], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    lines = (done.stdout + done.stderr).splitlines()
    return work, json.loads(done.stdout.strip().splitlines()[-1]), lines


def test_the_task_reads_the_ledger_connection_and_the_variables(ingested: tuple[Path, dict, list[str]]) -> None:
    work, outcome, _ = ingested
    assert outcome["tasks"]["ingest"] == "success" and outcome["tasks"]["publish"] == "success"
    with sqlite3.connect(work / "from-connection.db") as ledger:
        assert ledger.execute("SELECT count(*) FROM landing_delivery").fetchone()[0] == 27  # one a file read
    assert list((work / "lake-from-variable").rglob("*.parquet"))
    assert not (work / "var").exists()  # no fallback to ./var/


def test_the_environment_wins_over_the_variable(ingested: tuple[Path, dict, list[str]]) -> None:
    work, _, _ = ingested
    assert list((work / "outbox-from-environment" / "quality").rglob("files.csv"))
    assert not (work / "outbox-from-variable").exists()


def test_task_logs_have_the_files_and_steps_and_no_chatter(ingested: tuple[Path, dict, list[str]]) -> None:
    _, _, lines = ingested
    start = next(i for i, line in enumerate(lines) if "[DAG TEST] starting task_id=" in line)
    tasks = lines[start:]  # what the tasks logged (before: the probe's own metadata migration and DAG parse)
    noise = [line for line in tasks if any(mark in line for mark in CHATTER)]
    assert noise == [], "\n".join(noise[:10])
    per_file = [line for line in tasks if "orders/platform=" in line and " in=" in line and "[claims.ingest.pipeline]" in line]
    assert len(per_file) == 27
    assert any(f"orders {DAY}: reading the partitions of {DAY}" in line for line in tasks)
    assert any(f"orders {DAY}: 27 new file(s), rows in=" in line for line in tasks)
    assert any(f"{DAY}: published " in line and "quality file(s)" in line for line in tasks)


@pytest.mark.parametrize("switch", ["", "true"])
def test_third_party_chatter_comes_back_when_asked(tmp_path: Path, switch: str) -> None:
    """CLAIMS_THIRD_PARTY_LOGS=true lets GE's import chatter and deprecation warnings through."""
    code = (
        "import logging, warnings; logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s')\n"
        "import claims\n"
        "import validations.runner\n"
        "warnings.warn('old API', DeprecationWarning)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW", "PYTHONWARNINGS"))}
    env["CLAIMS_THIRD_PARTY_LOGS"] = switch
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    chatter = done.stderr.count("Skipping registering function")
    if switch:
        assert chatter > 100 and "DeprecationWarning: old API" in done.stderr
    else:
        assert chatter == 0 and "old API" not in done.stderr
