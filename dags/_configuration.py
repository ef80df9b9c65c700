"""Settings from Airflow connections and variables (and so from any secrets
backend Airflow is configured with), behind the environment.

``claims.settings`` imports no Airflow: it asks the sources registered with
``register_source`` for what the environment does not set. This module is the
Airflow one. It is registered when ``claims_dags`` is imported, but it looks
nothing up outside a process that talks to Airflow's supervisor (a task, the
triggerer): never while a DAG file is parsed (tests/dags/test_dag_validity.py
holds the parse to no look-ups), nor in the ``claims`` command itself.

| setting | Airflow |
|---|---|
| ``CLAIMS_DATABASE_URL`` | connection ``claims_ledger`` (sqlite: host = file path; postgres: schema = database; or extra ``sqlalchemy_url``), else variable ``claims_database_url`` |
| ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION`` | connection ``claims_object_store`` (type aws: login, password, extra ``endpoint_url``, ``region_name``) |
| any other ``CLAIMS_X`` | variable ``claims_x`` |
"""

from __future__ import annotations

import sys
from typing import Any

LEDGER_CONNECTION = "claims_ledger"
OBJECT_STORE_CONNECTION = "claims_object_store"
#: Values that are secrets: registered with Airflow's log masker when read.
SECRET_SETTINGS = frozenset({"CLAIMS_PSEUDONYM_KEYS", "CLAIMS_ENCRYPTION_KEYS", "AWS_SECRET_ACCESS_KEY",
                             "AWS_SESSION_TOKEN"})
_OBJECT_STORE = {
    "AWS_ACCESS_KEY_ID": lambda conn, extra: conn.login,
    "AWS_SECRET_ACCESS_KEY": lambda conn, extra: conn.password,
    "AWS_ENDPOINT_URL": lambda conn, extra: extra.get("endpoint_url") or conn.host,
    "AWS_DEFAULT_REGION": lambda conn, extra: extra.get("region_name"),
    "AWS_SESSION_TOKEN": lambda conn, extra: extra.get("aws_session_token"),
}


def _connection(conn_id: str) -> Any | None:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    try:
        return Connection.get(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError):
        return None


def _variable(key: str) -> str | None:
    from airflow.sdk import Variable

    value = Variable.get(key, default=None)
    return None if value is None else str(value)


def _in_airflow_process() -> bool:
    """Whether this process talks to Airflow's supervisor: a task (also under
    ``dag.test()``) or the triggerer. Elsewhere (the ``claims`` command before it
    has configured Airflow, a DAG file's parse) nothing is looked up, and Airflow
    is not imported by a look-up before its home is set."""
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return runner is not None and getattr(runner, "SUPERVISOR_COMMS", None) is not None


def airflow_setting(name: str) -> str | None:
    """The value Airflow holds for a setting, or None (also outside a task)."""
    if not _in_airflow_process():
        return None
    value: str | None = None
    if name == "CLAIMS_DATABASE_URL":
        conn = _connection(LEDGER_CONNECTION)
        if conn is not None:
            from claims.settings import sqlalchemy_url

            value = sqlalchemy_url(conn.conn_type, conn.host, conn.schema, conn.login, conn.password, conn.port,
                                   conn.extra_dejson)
    elif name in _OBJECT_STORE:
        conn = _connection(OBJECT_STORE_CONNECTION)
        if conn is not None:
            value = _OBJECT_STORE[name](conn, conn.extra_dejson or {})
    if value is None and name.startswith("CLAIMS_"):
        value = _variable(name.lower())
    if value and name in SECRET_SETTINGS:
        from airflow.sdk.log import mask_secret

        mask_secret(value, name)
    return value or None


def install() -> None:
    """Make Airflow a source of settings (after the environment)."""
    from claims.settings import register_source

    register_source(airflow_setting)
