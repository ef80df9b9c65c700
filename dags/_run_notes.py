"""The run-notes Airflow plugin (entry point ``airflow.plugins`` ``claims_run_notes``,
see setup.cfg): when a run of a claims DAG ends, the scheduler writes its note (the business day and,
for an ingestion run, what did not arrive; ``_notes.py``). A task cannot write its
own run's note in Airflow 3 (no metadata database access from tasks), the
scheduler can: the note is part of the transaction that records the run's end."""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


class RunNotes:
    """Listener: on a claims run's success or failure, write its note."""

    @hookimpl
    def on_dag_run_success(self, dag_run, msg: str) -> None:  # type: ignore[no-untyped-def]
        _note(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run, msg: str) -> None:  # type: ignore[no-untyped-def]
        _note(dag_run)


def _note(dag_run) -> None:  # type: ignore[no-untyped-def]
    from claims_dags._notes import CLAIMS_DAG_IDS, write_note
    from sqlalchemy.orm import object_session

    if dag_run.dag_id not in CLAIMS_DAG_IDS:
        return
    session = object_session(dag_run)
    if session is None:
        return
    try:
        write_note(dag_run, session)
    except Exception:  # a note must never stop the scheduler
        log.exception("could not write the note of %s %s", dag_run.dag_id, dag_run.run_id)


class RunNotesPlugin(AirflowPlugin):
    name = "claims_run_notes"
    listeners = [RunNotes()]
