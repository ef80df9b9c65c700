"""The DAG folder. Installed as the package ``claims_dags`` so that the ``claims``
command finds these files wherever the project is installed."""

from pathlib import Path

DAGS_FOLDER = Path(__file__).parent
