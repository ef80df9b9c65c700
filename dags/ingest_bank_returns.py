"""Ingest the bank's results for the payout items."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from claims_dags._ingest_stage import build_ingest_dag

DOC = """
### Ingest bank returns

Reads `bank_returns/date={D}/` (and the 6 days before): the bank's result for each
payout item, `settled` or `failed` with a failure code. Rows are checked on their
own; the payouts run applies them to the ledger (settled closes the item, failed
reverses it and the claim waits for an amended payee account) and reports
end-to-end ids it does not know in `reports/date={D}/bank_returns.csv`.
"""

ingest_bank_returns: DAG = build_ingest_dag("bank_returns", DOC, pendulum.datetime(2025, 7, 1, tz="Asia/Shanghai"))
