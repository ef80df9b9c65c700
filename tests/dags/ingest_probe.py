"""Run by tests/dags/test_task_settings_and_logs.py in a fresh process (Airflow
reads its configuration once, at import): the ``ingest_orders`` DAG of one
business day through ``dag.test()`` on a SQLite metadata database in a
temporary folder, at Airflow's INFO log level. The test gives the settings as
Airflow connections and variables (``AIRFLOW_CONN_*``, ``AIRFLOW_VAR_*``) and
reads what the task wrote and logged. Prints the task states as JSON on the last
line of stdout.

argv: work folder, business day.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

work, day = Path(sys.argv[1]), sys.argv[2]
# The DAG folder without importing claims_dags: as in a worker, Airflow is imported
# first and the package comes with the first DAG file parsed.
from importlib.util import find_spec  # noqa: E402

DAGS_FOLDER = Path(list(find_spec("claims_dags").submodule_search_locations)[0])

os.environ["AIRFLOW_HOME"] = str(work / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{work / 'airflow.db'}"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"

from airflow import settings  # noqa: E402

settings.configure_orm()
from airflow.utils.db import upgradedb  # noqa: E402

upgradedb()
from airflow.dag_processing.dagbag import DagBag  # noqa: E402

bag = DagBag(str(DAGS_FOLDER))
assert not bag.import_errors, bag.import_errors
dag = bag.dags["ingest_orders"]
dag.deadline = None  # the scheduler's; dag.test() of a DAG with deadlines fails in 3.3.2 (dags/runner.py)
run = dag.test(run_conf={"business_date": day, "wait_for_markers": False})
states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()}
print(json.dumps({"run": str(getattr(run.state, "value", run.state)), "tasks": states}))
