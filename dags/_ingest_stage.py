"""The shape of an ingestion DAG: wait for markers (reschedule mode, no worker slot
held), ingest the window's new files, publish feedback and quality files."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, PokeReturnValue, dag, task
from claims_dags._wiring import DEFAULT_ARGS, PARAMS, TAGS, business_day_from_context

#: Every day D is ingested after its close: 02:00 Asia/Shanghai on D+1.
SCHEDULE = CronDataIntervalTimetable("0 2 * * *", timezone="Asia/Shanghai")


def ledger_asset(source: str) -> Asset:
    return Asset(f"claims://ledger/{source}", extra={"source": source})


def build_ingest_dag(source: str, doc: str, start_date):  # type: ignore[no-untyped-def]
    @dag(
        dag_id=f"ingest_{source}",
        schedule=SCHEDULE,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=[*TAGS, "ingest"],
        params=PARAMS,
        doc_md=doc,
    )
    def ingest_dag():  # type: ignore[no-untyped-def]
        @task.sensor(poke_interval=600, timeout=6 * 3600, mode="reschedule", soft_fail=False)
        def partitions_arrived(**context) -> PokeReturnValue:  # type: ignore[no-untyped-def]
            from claims.ingest import pending_partitions

            day = business_day_from_context(context)
            missing = pending_partitions(source, day)
            wait = bool(context["params"].get("wait_for_markers", True))
            done = not missing or not wait or _past_cutoff(context)
            return PokeReturnValue(is_done=done, xcom_value={"business_date": day, "not_arrived": missing})

        @task(outlets=[ledger_asset(source)], execution_timeout=timedelta(hours=4))
        def ingest(arrival: dict, **context) -> dict:  # type: ignore[no-untyped-def]
            from claims.calendar import parse_business_day
            from claims.ingest import ingest_source

            summary = ingest_source(source, parse_business_day(arrival["business_date"]))
            context["outlet_events"][ledger_asset(source)].extra = {"business_date": arrival["business_date"]}
            if summary["unbalanced"]:
                raise RuntimeError(f"files whose rows do not balance: {summary['unbalanced']}")
            return summary

        @task
        def publish(summary: dict) -> dict:
            from claims.calendar import parse_business_day
            from claims.ingest import publish_day

            return publish_day(parse_business_day(summary["business_day"]))

        publish(ingest(partitions_arrived()))

    return ingest_dag()


def _past_cutoff(context) -> bool:  # type: ignore[no-untyped-def]
    """Stop waiting 5 hours after the run's interval end: load what has arrived."""
    import pendulum

    end = context.get("data_interval_end")
    return end is not None and pendulum.now("UTC") > end + timedelta(hours=5)
