"""Wiring shared by the DAG files: defaults, the business-day parameter, the
business-day partitions, and how a task finds its business day. No domain logic
lives here (see claims/).

A run is a business day: every DAG is partitioned by the day ``YYYY-MM-DD``
(Asia/Shanghai). The ingestion DAGs run on a ``CronPartitionTimetable`` whose
partition is the day that has just ended; every later stage runs on a
``PartitionedAssetTimetable`` over its upstream assets, so it runs once per day
with exactly that day's events, and emits its own asset for the same day."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

from airflow.sdk import CronPartitionTimetable, Param, PartitionedAssetTimetable
from claims_dags._alerts import FAILURE_NOTIFIERS

OWNER = "claims-operations"
TAGS = ["claims", "occupational-injury"]


#: Transient errors (a store or database briefly unreachable) are retried after 2,
#: 4 and 8 minutes; a permanent one (bad parameter, bad configuration) raises
#: AirflowFailException and fails at once (``permanent_errors``). Every task has a
#: timeout; the stages set tighter ones.
DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
    "on_failure_callback": FAILURE_NOTIFIERS,  # a JSON log line, and a mail when configured
}

#: The partition key of a run: its business day.
PARTITION_KEY_FORMAT = "%Y-%m-%d"
TIMEZONE = "Asia/Shanghai"


def daily_partitions(cron: str) -> CronPartitionTimetable:
    """A run at each tick of ``cron`` (Asia/Shanghai) for the business day before
    it: the 02:00 run of D+1 has the partition key D."""
    return CronPartitionTimetable(cron, timezone=TIMEZONE, run_offset=-1, key_format=PARTITION_KEY_FORMAT)


def partitions_of(assets):  # type: ignore[no-untyped-def]
    """One run per business day once every asset of the condition has that day's
    event (the identity mapper: the consumer's key is the producers' key)."""
    return PartitionedAssetTimetable(assets=assets)


PARAMS = {
    "business_date": Param(
        "",
        type=["string", "null"],
        pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$",
        description=("Business day YYYY-MM-DD (Asia/Shanghai). Empty: the run's partition key "
                     "(or, without one, its data interval's day)."),
    ),
    "wait_for_markers": Param(
        True,
        type="boolean",
        description=("Wait for the day's _SUCCESS markers until the cut-off, then fail naming the expected "
                     "partitions still missing; false: load what is there, report missing partitions, "
                     "do not fail for them (claims run-day)."),
    ),
}


def business_day_from_context(context) -> str:  # type: ignore[no-untyped-def]
    """The business day a run works on, as YYYY-MM-DD: the explicit parameter, else
    the run's partition key, else the day of its triggering asset events (they must
    all name one day), else the data interval start. A ValueError otherwise."""
    from claims.calendar import business_day_of, parse_business_day

    explicit = (context.get("params") or {}).get("business_date") or ""
    if explicit:
        return parse_business_day(explicit).isoformat()
    dag_run = context.get("dag_run")
    key = context.get("partition_key") or getattr(dag_run, "partition_key", None)
    if key:
        return parse_business_day(key).isoformat()
    days = set()
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            day = getattr(event, "partition_key", None) or (event.extra or {}).get("business_date")
            if day:
                days.add(parse_business_day(day).isoformat())
    if len(days) > 1:
        raise ValueError(f"the triggering asset events name several business days {sorted(days)}: "
                         "trigger with business_date or a partition key")
    if days:
        return days.pop()
    start = context.get("data_interval_start") or context.get("logical_date")
    if start is None:
        raise ValueError("no business_date parameter, partition key, asset event or data interval: "
                         "pass business_date or a partition key")
    return business_day_of(start).isoformat()


def task_business_day(context):  # type: ignore[no-untyped-def]
    """The run's business day as a date; a bad or missing one fails the task at once,
    without retries (nothing a retry could change)."""
    from airflow.sdk.exceptions import AirflowFailException

    from claims.calendar import parse_business_day

    try:
        return parse_business_day(business_day_from_context(context))
    except ValueError as error:
        raise AirflowFailException(str(error)) from error


@contextlib.contextmanager
def permanent_errors() -> Iterator[None]:
    """Configuration errors fail the task at once (AirflowFailException): a retry
    would only fail again after its delay."""
    from airflow.sdk.exceptions import AirflowFailException

    from claims.arrivals import ExpectationError
    from claims.settings import ConfigurationError

    try:
        yield
    except (ConfigurationError, ExpectationError) as error:
        raise AirflowFailException(f"{type(error).__name__}: {error}") from error


def emit_day(context, asset, day: str) -> None:  # type: ignore[no-untyped-def]
    """Record the task's event on ``asset`` for the business day: the event's
    partition key (what partitioned consumers match on) and its extra."""
    accessor = context["outlet_events"][asset]
    accessor.extra = {"business_date": day}
    accessor.add_partitions(day)
