"""Ingest the platforms' per-order insurance records of a business day."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from claims_dags._ingest_stage import build_ingest_dag

DOC = """
### Ingest orders

Reads `orders/platform={code}/date={D}/` for every platform and the 6 days before
(late files), once each partition's `_SUCCESS` marker is there. Every file is
identified by its sha256: a re-delivered file loads nothing. Rows are checked
(`docs/validation-rules.md`), pseudonymised and written to the order lake;
rejected rows go to `feedback/platform={code}/date={D}/rejections.csv` with a
reason code; per-file counts go to `quality/date={D}/`.

Re-running a day is safe: nothing loads twice and the outputs are re-rendered
byte-identical from the ledger.
"""

ingest_orders: DAG = build_ingest_dag("orders", DOC, pendulum.datetime(2025, 7, 1, tz="Asia/Shanghai"))
