"""Ingest the platforms' monthly premium declarations."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from claims_dags._ingest_stage import build_ingest_dag

DOC = """
### Ingest declarations

Reads `declarations/platform={code}/month={YYYY-MM}/` for the month of D and the
month before (a month is declared after it ends): each platform's filing of its
order count and premium per province and industry. Rows are checked on their own;
reconciliation against the per-order records is the reporting stage's. Rejections
go to `feedback/source=declarations/date={D}/rejections.csv`.
"""

ingest_declarations: DAG = build_ingest_dag("declarations", DOC, pendulum.datetime(2025, 7, 1, tz="Asia/Shanghai"))
