"""Pay every approved claim of a business day exactly once."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, Param, PokeReturnValue, dag, task
from claims_dags._alerts import payouts_deadline
from claims_dags._ingest_stage import ledger_asset
from claims_dags._wiring import (
    DEFAULT_ARGS,
    PARAMS,
    TAGS,
    emit_day,
    partitions_of,
    permanent_errors,
    task_business_day,
)

DOC = """
### Daily payouts

Runs once per business day D, when that day's adjudicate run (decisions) and bank
returns ingestion have emitted their asset events for D (partition key
`YYYY-MM-DD`): never for a day no upstream run produced. It waits for the
cut-off (`CLAIMS_PAYOUT_CUTOFF`, a cron in Asia/Shanghai read when the task runs,
default 03:00: the first tick after D ends), then pays every approved amount not
yet covered by a live payout item: grouped by paying province, in batches of at
most 3,000 items, as CSV and ISO 20022 pain.001.001.09 under
`payouts/date={D}/province={P}/`.

Release: the scheduler only **prepares**. The day's `manifest.json` is written
last, at release, after `claims payouts approve D --by NAME` by someone other
than the preparer (four eyes). `auto_release` (a trigger parameter, off by
default; refused in production) releases without a second person, recorded as
automatic: `claims run-day`, the embedded single-operator path, uses it. Re-runs
and retries verify what was published and pay nothing twice (unique keys in the
ledger).
"""

#: The day's payouts done: the reports DAG runs on it (partition key: the business day).
PAYOUTS = Asset("claims://ledger/payouts")
DECISIONS = Asset("claims://ledger/decisions")


@dag(
    dag_id="payouts",
    schedule=partitions_of(DECISIONS & ledger_asset("bank_returns")),
    start_date=pendulum.datetime(2025, 7, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    deadline=payouts_deadline(),
    tags=[*TAGS, "payouts"],
    params={
        **PARAMS,
        "auto_release": Param(
            False, type="boolean",
            description=("Release without a second person (recorded as automatic); refused in production. "
                         "Off: prepare only, release with `claims payouts approve D --by NAME`."),
        ),
    },
    doc_md=DOC,
)
def payouts_dag() -> None:
    @task.sensor(poke_interval=300, timeout=8 * 3600, mode="reschedule", execution_timeout=timedelta(minutes=5))
    def cutoff_passed(**context) -> PokeReturnValue:  # type: ignore[no-untyped-def]
        """The day's payouts start after the cut-off (not waited for when
        ``wait_for_markers`` is off, as in run-day, or for a past day)."""
        import logging

        day = task_business_day(context)
        with permanent_errors():
            cutoff = payout_cutoff(day)
        done = not context["params"].get("wait_for_markers", True) or pendulum.now("UTC") >= cutoff
        if not done:
            logging.getLogger("claims.payouts").info("business day %s: payouts wait for the cut-off %s",
                                                     day, cutoff.isoformat())
        return PokeReturnValue(is_done=done, xcom_value=day.isoformat())

    @task(outlets=[PAYOUTS], execution_timeout=timedelta(hours=2))
    def pay(day_text: str, **context) -> dict:  # type: ignore[no-untyped-def]
        from airflow.sdk.exceptions import AirflowFailException

        from claims.calendar import parse_business_day
        from claims.payouts import pay_day
        from claims.settings import load_settings

        day = parse_business_day(day_text)
        auto_release = bool(context["params"].get("auto_release"))
        with permanent_errors():
            if auto_release and load_settings().environment == "production":
                raise AirflowFailException("auto_release is refused in production: release with "
                                           f"`claims payouts approve {day_text} --by NAME` (four eyes)")
            result = pay_day(day, auto_release=auto_release)
        emit_day(context, PAYOUTS, day_text)
        return result

    pay(cutoff_passed())


def payout_cutoff(day):  # type: ignore[no-untyped-def]
    """The first tick of ``CLAIMS_PAYOUT_CUTOFF`` (cron, Asia/Shanghai, default
    ``0 3 * * *``) after business day ``day`` ends. Read when the task runs, so the
    DAG's shape never depends on it."""
    from datetime import datetime, time

    from croniter import croniter

    from claims.calendar import SHANGHAI
    from claims.settings import ConfigurationError, setting

    expression = setting("CLAIMS_PAYOUT_CUTOFF", "0 3 * * *") or "0 3 * * *"  # environment, else the variable
    if not croniter.is_valid(expression):
        raise ConfigurationError(f"CLAIMS_PAYOUT_CUTOFF is a cron expression, got {expression!r}")
    end = datetime.combine(day + timedelta(days=1), time(0, 0), SHANGHAI)
    return croniter(expression, end - timedelta(seconds=1)).get_next(datetime)


payouts: DAG = payouts_dag()
