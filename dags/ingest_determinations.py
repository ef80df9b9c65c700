"""Ingest the HRSS offices' standard-review outcomes of a business day."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from claims_dags._ingest_stage import build_ingest_dag

DOC = """
### Ingest determinations

Reads `determinations/date={D}/` (and the 6 days before): the outcomes of standard
(non-fast-track) review, `approved` with an amount or `rejected` with a reason.
Rows are checked on their own (codes, amounts, times); whether the claim exists
and awaits review is decided by adjudication, with a reason code. Rejections go to
`feedback/source=determinations/date={D}/rejections.csv`.
"""

ingest_determinations: DAG = build_ingest_dag(
    "determinations", DOC, pendulum.datetime(2025, 7, 1, tz="Asia/Shanghai")
)
