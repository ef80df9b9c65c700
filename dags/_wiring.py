"""Wiring shared by the DAG files: defaults, the business-day parameter, and how a
task finds its business day. No domain logic lives here (see claims/)."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param

OWNER = "claims-operations"
TAGS = ["claims", "occupational-injury"]



def alert_operations(context) -> None:  # type: ignore[no-untyped-def]
    """Failure alert: an ERROR log line operators' log shipping pages on. Swap in
    Airflow's SmtpNotifier or a chat notifier per deployment (infra/)."""
    import logging

    ti = context.get("task_instance")
    logging.getLogger("claims.alerts").error(
        "claims task failed: dag=%s task=%s run=%s business_date=%s",
        getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"), getattr(ti, "run_id", "?"),
        (context.get("params") or {}).get("business_date", ""),
    )


DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "on_failure_callback": alert_operations,
}

PARAMS = {
    "business_date": Param(
        "",
        type="string",
        pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$",
        description="Business day YYYY-MM-DD (Asia/Shanghai). Empty: the run's data interval start.",
    ),
    "wait_for_markers": Param(
        True,
        type="boolean",
        description="Wait for the day's _SUCCESS markers; false reports missing partitions at once.",
    ),
}


def business_day_from_context(context) -> str:  # type: ignore[no-untyped-def]
    """The business day a run works on, as YYYY-MM-DD: the explicit parameter, else
    the triggering asset event's ``business_date``, else the data interval start."""
    from claims.calendar import business_day_of, parse_business_day

    explicit = (context["params"] or {}).get("business_date") or ""
    if explicit:
        return parse_business_day(explicit).isoformat()
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            day = (event.extra or {}).get("business_date")
            if day:
                return parse_business_day(day).isoformat()
    start = context.get("data_interval_start") or context.get("logical_date")
    if start is None:
        raise ValueError("no business_date parameter, asset event or data interval: pass business_date")
    return business_day_of(start).isoformat()
