"""The Airflow plugin ``claims``: registers the custom deadline reference of
``_alerts`` so that the scheduler can evaluate it (Airflow finds custom deadline
references only through plugins). Installed by the entry point
``airflow.plugins`` (setup.cfg); imported by Airflow's components, never by a
DAG file."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from claims_dags._alerts import BusinessDayDeadline


class ClaimsPlugin(AirflowPlugin):
    name = "claims"
    deadline_references = [BusinessDayDeadline]
