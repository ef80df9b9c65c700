"""Ingest the claim applications the platforms filed on a business day."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from claims_dags._ingest_stage import build_ingest_dag

DOC = """
### Ingest claims

Reads `claims/platform={code}/date={D}/` (the filing date) for every platform and
the 6 days before. A later version of a `claim_id` is an amendment: versions are
ordered by partition date, file name and line and the history is kept; a
`claim_id` repeated in one file is rejected (`DUPLICATE_IN_FILE`). Names and
bank accounts are encrypted, resident IDs become keyed pseudonyms.
"""

ingest_claims: DAG = build_ingest_dag("claims", DOC, pendulum.datetime(2025, 7, 1, tz="Asia/Shanghai"))
