"""The shape of an ingestion DAG: wait for markers (reschedule mode, no worker slot
held) until the cut-off, ingest the window's new files, publish feedback and
quality files, then check that every expected partition arrived.

A day whose expected partitions are not all in by the cut-off loads what did
arrive (its asset event is emitted, so the later stages run on it) and then the
run fails in ``check_arrivals``, naming the missing partitions in its log and in
the run's note. With ``wait_for_markers`` false (``claims run-day``) nothing
waits and missing partitions are reported, not failed."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, PokeReturnValue, dag, task
from claims_dags._alerts import ingestion_deadline
from claims_dags._notes import ARRIVALS_XCOM
from claims_dags._wiring import (
    DEFAULT_ARGS,
    PARAMS,
    TAGS,
    daily_partitions,
    emit_day,
    permanent_errors,
    task_business_day,
)

#: Every day D is ingested after its close: the 02:00 (Asia/Shanghai) run of D+1 has the partition key D.
SCHEDULE_CRON = "0 2 * * *"


def ledger_asset(source: str) -> Asset:
    return Asset(f"claims://ledger/{source}", extra={"source": source})


def build_ingest_dag(source: str, doc: str, start_date):  # type: ignore[no-untyped-def]
    @dag(
        dag_id=f"ingest_{source}",
        schedule=daily_partitions(SCHEDULE_CRON),
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=[*TAGS, "ingest"],
        params=PARAMS,
        doc_md=doc,
        deadline=ingestion_deadline(),
    )
    def ingest_dag():  # type: ignore[no-untyped-def]
        @task.sensor(poke_interval=600, timeout=8 * 3600, mode="reschedule", soft_fail=False,
                     execution_timeout=timedelta(minutes=10))
        def partitions_arrived(**context) -> PokeReturnValue:  # type: ignore[no-untyped-def]
            import logging

            import pendulum

            from claims.arrivals import arrival_cutoff
            from claims.ingest import pending_partitions

            day = task_business_day(context)
            with permanent_errors():
                cutoff = arrival_cutoff(day)
            missing = pending_partitions(source, day.isoformat())
            wait = bool(context["params"].get("wait_for_markers", True))
            past_cutoff = pendulum.now("UTC") >= cutoff
            done = not missing or not wait or past_cutoff
            log = logging.getLogger("claims.arrivals")
            if missing and not done:
                log.info("business day %s: waiting until %s for %d partition(s): %s",
                         day, cutoff.isoformat(), len(missing), ", ".join(missing))
            elif missing:
                log.warning("business day %s: %d partition(s) not arrived (%s), loading what arrived: %s",
                            day, len(missing), "cut-off passed" if wait else "not waiting", ", ".join(missing))
            return PokeReturnValue(is_done=done, xcom_value={"business_date": day.isoformat(), "not_arrived": missing})

        @task(outlets=[ledger_asset(source)], execution_timeout=timedelta(hours=4))
        def ingest(arrival: dict, **context) -> dict:  # type: ignore[no-untyped-def]
            from claims.calendar import parse_business_day
            from claims.ingest import ingest_source

            with permanent_errors():
                summary = ingest_source(source, parse_business_day(arrival["business_date"]))
            emit_day(context, ledger_asset(source), arrival["business_date"])
            if summary["unbalanced"]:
                raise RuntimeError(f"files whose rows do not balance: {summary['unbalanced']}")
            return summary

        @task(execution_timeout=timedelta(hours=1))
        def publish(summary: dict) -> dict:
            from claims.calendar import parse_business_day
            from claims.ingest import publish_day

            with permanent_errors():
                return publish_day(parse_business_day(summary["business_day"]))

        @task(execution_timeout=timedelta(minutes=10))
        def check_arrivals(published: dict, **context) -> dict:  # type: ignore[no-untyped-def]
            """Fail (no retry: waiting is the sensor's job) when an expected partition
            of the day is still missing after the cut-off."""
            import logging

            from airflow.sdk.exceptions import AirflowFailException

            from claims.arrivals import arrival_report

            day = task_business_day(context)
            with permanent_errors():
                report = arrival_report(source, day)
            context["ti"].xcom_push(key=ARRIVALS_XCOM, value=report)
            log = logging.getLogger("claims.arrivals")
            if report["expected_missing"]:
                text = (f"business day {day}: {len(report['expected_missing'])} expected partition(s) of "
                        f"{source} not arrived: {', '.join(report['expected_missing'])}")
                if context["params"].get("wait_for_markers", True):
                    log.error("%s", text)
                    raise AirflowFailException(text)
                log.warning("%s (reported, not failed: wait_for_markers is off)", text)
            else:
                log.info("business day %s: every expected partition of %s arrived", day, source)
            return report

        check_arrivals(publish(ingest(partitions_arrived())))

    return ingest_dag()
