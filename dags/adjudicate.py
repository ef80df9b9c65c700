"""Decide the claims of a business day by the provinces' fast-track rules."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, dag, task
from claims_dags._ingest_stage import ledger_asset
from claims_dags._wiring import DEFAULT_ARGS, PARAMS, TAGS, emit_day, partitions_of, permanent_errors, task_business_day

DOC = """
### Adjudicate

Runs once per business day, when that day's orders, claims and determinations
ingestion runs have each emitted their asset event for the day (partition key
`YYYY-MM-DD`; a manual run takes the `business_date` parameter or a partition
key). Every claim whose current version has no decision is
decided by its province's versioned fast-track rules (`fast_track`,
`standard_review`, `pending` or `rejected`, with every reason that applied and the
rule-set version); pending claims are looked at again; the day's HRSS
determinations are applied to claims under standard review. Writes
`decisions/date={D}/decisions.csv`, `decisions/date={D}/determinations.csv` and
`reports/date={D}/deadlines.csv` (claims past or near their confirmation deadline).

`claims explain CLAIM_ID` shows any decision rule by rule.
"""

DECISIONS = Asset("claims://ledger/decisions")


@dag(
    dag_id="adjudicate",
    schedule=partitions_of(ledger_asset("orders") & ledger_asset("claims") & ledger_asset("determinations")),
    start_date=pendulum.datetime(2025, 7, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "adjudicate"],
    params=PARAMS,
    doc_md=DOC,
)
def adjudicate_dag() -> None:
    @task(outlets=[DECISIONS], execution_timeout=timedelta(hours=2))
    def adjudicate(**context) -> dict:  # type: ignore[no-untyped-def]
        from claims.adjudication import adjudicate_day

        day = task_business_day(context)
        with permanent_errors():
            summary = adjudicate_day(day)
        emit_day(context, DECISIONS, day.isoformat())
        return summary

    adjudicate()


adjudicate: DAG = adjudicate_dag()
