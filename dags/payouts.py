"""Pay every approved claim of a business day exactly once."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, dag, task
from claims_dags._wiring import DEFAULT_ARGS, PARAMS, TAGS, business_day_from_context

DOC = """
### Daily payouts

Every calendar day (holidays included: daily payment is the point), after the
cut-off (`CLAIMS_PAYOUT_CUTOFF`, a cron in Asia/Shanghai, default 03:00), every
approved amount not yet covered by a live payout item is paid: grouped by paying
province, in batches of at most 3,000 items, as CSV and ISO 20022 pain.001.001.09
under `payouts/date={D}/province={P}/`. The day's `manifest.json` is written last,
at release: automatically where `CLAIMS_PAYOUTS_AUTO_RELEASE` is on (the embedded
demo), otherwise after `claims payouts approve D --by NAME` by someone other than
the preparer. Re-runs and retries verify what was published and pay nothing twice
(unique keys in the ledger).
"""

CUTOFF = os.environ.get("CLAIMS_PAYOUT_CUTOFF", "0 3 * * *")
#: The day's payouts done: the reports DAG runs on it (the business day in the event's extra).
PAYOUTS = Asset("claims://ledger/payouts")


@dag(
    dag_id="payouts",
    schedule=CronDataIntervalTimetable(CUTOFF, timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2025, 7, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "payouts"],
    params={
        **PARAMS,
        "auto_release": Param(
            None, type=["null", "boolean"],
            description="Release without a second person (recorded as automatic). Empty: CLAIMS_PAYOUTS_AUTO_RELEASE.",
        ),
    },
    doc_md=DOC,
)
def payouts_dag() -> None:
    @task(outlets=[PAYOUTS], execution_timeout=timedelta(hours=2))
    def pay(**context) -> dict:  # type: ignore[no-untyped-def]
        from claims.calendar import parse_business_day
        from claims.payouts import pay_day

        day = parse_business_day(business_day_from_context(context))
        result = pay_day(day, auto_release=context["params"].get("auto_release"))
        context["outlet_events"][PAYOUTS].extra = {"business_date": day.isoformat()}
        return result

    pay()


payouts: DAG = payouts_dag()
