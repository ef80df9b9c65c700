"""The DAG folder. Installed as the package ``claims_dags`` so that the ``claims``
command finds these files wherever the project is installed.

Importing it (every DAG file does, through ``_wiring``) quiets third-party log
chatter before a DAG is built (claims/logs.py) and makes Airflow connections and
variables a source of settings behind the environment (``_configuration``; no
look-up happens until a task reads a setting). Nothing here imports Airflow:
``claims run-day`` imports this package before Airflow is configured."""

from pathlib import Path

from claims_dags._configuration import install as _install_airflow_settings

from claims.logs import quiet_third_party

DAGS_FOLDER = Path(__file__).parent
quiet_third_party()
_install_airflow_settings()
