"""``claims run-day D``: run every DAG of day D in order through Airflow's own
``dag.test()``, with no scheduler or webserver.

Airflow's traps, designed around here:
- a task's exception is logged, not raised: the exit code comes from task states;
- a retry would wait out ``retry_delay``: retries are off for these runs;
- a sensor would wait for its markers: ``wait_for_markers`` is false, so a missing
  partition is reported as not arrived instead;
- a second ``dag.test()`` for the same logical date deletes the earlier run: the
  history worth keeping lives in the claims ledger, not in Airflow's database;
- the business date is passed explicitly as a parameter, never derived from the
  clock or the manual run's data interval;
- payouts are released automatically (and recorded so): run-day is the embedded,
  single-operator path; production releases go through `claims payouts approve`.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

DAGS_FOLDER = Path(__file__).parent
DAG_ORDER = (
    "ingest_orders", "ingest_claims", "ingest_determinations", "ingest_bank_returns", "ingest_declarations",
    "adjudicate", "payouts",
)
OK_STATES = {"success", "skipped"}


def prepare_airflow_environment() -> Path:
    """Point Airflow at this DAG folder and a metadata DB under AIRFLOW_HOME
    (default ``./var/airflow``). Must run before Airflow is imported."""
    warnings.simplefilter("ignore")  # Airflow's own deprecation chatter is not for operators
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    home = Path(os.environ.setdefault("AIRFLOW_HOME", str(Path.cwd() / "var" / "airflow"))).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    return home


@dataclass
class DagOutcome:
    dag_id: str
    state: str
    task_states: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(state not in OK_STATES for state in self.task_states.values()) or self.state != "success"


def migrate_metadata_db() -> None:
    from airflow.utils.db import upgradedb

    upgradedb()


def run_dags(day: date, dag_ids: tuple[str, ...] = DAG_ORDER) -> list[DagOutcome]:
    prepare_airflow_environment()
    from airflow import settings as airflow_settings

    airflow_settings.configure_orm()
    warnings.simplefilter("ignore")  # Airflow's start-up turned warnings back on
    migrate_metadata_db()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(DAGS_FOLDER))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    logical = datetime.combine(day, time(0, 0), ZoneInfo("Asia/Shanghai"))
    outcomes = []
    for dag_id in dag_ids:
        dag = bag.dags[dag_id]
        for task in dag.tasks:
            task.retries = 0
        conf: dict[str, object] = {"business_date": day.isoformat(), "wait_for_markers": False}
        if "auto_release" in dag.params:
            conf["auto_release"] = True  # run-day releases its payouts itself, recorded as automatic
        run = dag.test(logical_date=logical, run_conf=conf)
        states = {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state)
                  for ti in run.get_task_instances()}
        state = str(run.state.value if hasattr(run.state, "value") else run.state)
        outcomes.append(DagOutcome(dag_id, state, states))
        logging.getLogger(__name__).info("%s: %s %s", dag_id, state, states)
    return outcomes
