"""Reconciliation and province reports of a business day, after its payouts."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, dag, task
from claims_dags._ingest_stage import ledger_asset
from claims_dags._wiring import DEFAULT_ARGS, PARAMS, TAGS, partitions_of, permanent_errors, task_business_day

DOC = """
### Reports

Runs once per business day, after that day's payouts and declarations runs
(their asset events for the day, partition key `YYYY-MM-DD`; a manual run takes
the `business_date` parameter or a partition key). Renders from the
ledger, as of the day, under `reports/date={D}/`: `premium_reconciliation.csv`
(orders loaded against the rate table and the platforms' declarations),
`payout_reconciliation.csv` and `payout_exceptions.csv` (approved, paid,
returned, settled, in transit and owed against the ledger's accounts, per paying
province), `province_report.csv` for officials (small cells suppressed), and
HTML pages: `index.html` (national overview), `province={P}.html`, `finance.html`.

A payout tie-out that does not hold fails the task after the files are written
(a system fault: see `payout_exceptions.csv`); a premium difference is a finding,
reported, not a failure. `claims report D` does the same without Airflow.
"""

#: The payouts DAG's outlet (the business day in the event's extra).
PAYOUTS = Asset("claims://ledger/payouts")


@dag(
    dag_id="reports",
    schedule=partitions_of(PAYOUTS & ledger_asset("declarations")),
    start_date=pendulum.datetime(2025, 7, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "reports"],
    params=PARAMS,
    doc_md=DOC,
)
def reports_dag() -> None:
    @task(execution_timeout=timedelta(hours=1))
    def report(**context) -> dict:  # type: ignore[no-untyped-def]
        from airflow.sdk.exceptions import AirflowFailException

        from claims.reports import PayoutTieOutError, report_day

        day = task_business_day(context)
        with permanent_errors():
            try:
                return report_day(day)
            except PayoutTieOutError as error:  # the files are written; a retry would render the same
                raise AirflowFailException(f"PayoutTieOutError: {error}") from error

    report()


reports: DAG = reports_dag()
