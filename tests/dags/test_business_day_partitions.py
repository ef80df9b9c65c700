"""A run is a business day (issue 15): the timetables key every run by the day,
consumers wait for exactly their day's upstream events, permanent errors fail at
once, missing expected partitions fail a waiting run, and nothing releases
payouts by default. Fast: the DagBag is parsed once, tasks' callables are called
directly with a minimal context."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

# That module points AIRFLOW_HOME at a temporary folder before Airflow is imported; its fixtures parse the bag.
from tests.dags.test_dag_validity import dags, parsed  # noqa: F401

SHANGHAI = ZoneInfo("Asia/Shanghai")
INGEST = ("ingest_orders", "ingest_claims", "ingest_determinations", "ingest_bank_returns", "ingest_declarations")
CONSUMES = {
    "adjudicate": {"claims://ledger/orders", "claims://ledger/claims", "claims://ledger/determinations"},
    "payouts": {"claims://ledger/decisions", "claims://ledger/bank_returns"},
    "reports": {"claims://ledger/payouts", "claims://ledger/declarations"},
}


def by_id(dags: list[Any]) -> dict[str, Any]:  # noqa: F811 - the fixture's value
    return {dag.dag_id: dag for dag in dags}


def core(timetable):  # type: ignore[no-untyped-def]
    from airflow.serialization.encoders import coerce_to_core_timetable

    return coerce_to_core_timetable(timetable)


def uris(condition: Any) -> set[str]:
    if hasattr(condition, "uri"):
        return {condition.uri}
    return set().union(*(uris(part) for part in condition.objects))


def test_an_ingestion_run_is_keyed_by_the_business_day_that_ended(dags: list[Any]) -> None:  # noqa: F811
    import pendulum

    for dag_id in INGEST:
        timetable = core(by_id(dags)[dag_id].timetable)
        assert timetable.partitioned, dag_id
        run_at = pendulum.datetime(2025, 9, 13, 2, 0, tz="Asia/Shanghai").in_timezone("UTC")
        assert timetable._get_partition_info(run_at)[1] == "2025-09-12", dag_id
        week = list(timetable.iter_partition_dagrun_infos(
            earliest=datetime(2025, 9, 1, tzinfo=SHANGHAI), latest=datetime(2025, 9, 7, 12, tzinfo=SHANGHAI)))
        assert [info.partition_key for info in week] == [f"2025-09-0{n}" for n in range(1, 8)], dag_id


def test_a_consumer_runs_on_its_days_upstream_events_only(dags: list[Any]) -> None:  # noqa: F811
    from airflow.sdk import PartitionedAssetTimetable

    bag = by_id(dags)
    for dag_id, wanted in CONSUMES.items():
        timetable = bag[dag_id].timetable
        assert isinstance(timetable, PartitionedAssetTimetable), (dag_id, type(timetable))
        assert uris(timetable.asset_condition) == wanted, dag_id
        assert type(timetable.asset_condition).__name__ == "AssetAll", dag_id  # every one of them, not any
        mapper = core(timetable).get_partition_mapper(uri=next(iter(wanted)))
        assert mapper.to_downstream("2025-09-12") == "2025-09-12", dag_id  # the same day, not a rollup
    consumed = set().union(*CONSUMES.values())
    emitted = {outlet.uri for dag_id in INGEST for task in bag[dag_id].tasks for outlet in task.outlets}
    assert emitted <= consumed, emitted - consumed  # every feed has a consumer: lineage does not stop


def test_every_task_has_a_timeout_and_transient_errors_back_off(dags: list[Any]) -> None:  # noqa: F811
    violations = []
    for dag in dags:
        for task in dag.tasks:
            if task.execution_timeout is None:
                violations.append(f"{dag.dag_id}.{task.task_id}: no execution_timeout")
            if not task.retry_exponential_backoff:
                violations.append(f"{dag.dag_id}.{task.task_id}: retries without backoff")
            if getattr(task, "mode", "") == "poke":
                violations.append(f"{dag.dag_id}.{task.task_id}: a poking sensor holds a worker slot")
    assert not violations, "\n".join(violations)


# --------------------------------------------------------------------------- #
# Calling the tasks
# --------------------------------------------------------------------------- #


def context(**params: Any) -> dict[str, Any]:
    return {"params": {"business_date": "", "wait_for_markers": True, "auto_release": False, **params},
            "dag_run": SimpleNamespace(partition_key=None), "triggering_asset_events": {},
            "data_interval_start": None, "logical_date": None, "outlet_events": {}}


FIRST_TASK = {**{dag_id: "partitions_arrived" for dag_id in INGEST},
              "adjudicate": "adjudicate", "payouts": "cutoff_passed", "reports": "report"}


@pytest.mark.parametrize("business_date", ["2025-02-30", ""])
def test_a_bad_or_missing_business_day_fails_at_once_without_retry(
    dags: list[Any], business_date: str,  # noqa: F811
) -> None:
    """A bad date, or a manual run with neither a date nor a partition key: nothing a
    retry could change, so AirflowFailException (the 605 s of issue 15 become 0)."""
    from airflow.sdk.exceptions import AirflowFailException

    for dag_id, task_id in FIRST_TASK.items():
        task = by_id(dags)[dag_id].get_task(task_id)
        with pytest.raises(AirflowFailException, match="business"):
            task.python_callable(**context(business_date=business_date))


def test_the_partition_key_is_the_business_day_and_the_parameter_overrides_it() -> None:
    from claims_dags._wiring import business_day_from_context

    keyed = {**context(), "partition_key": "2025-09-12"}
    assert business_day_from_context(keyed) == "2025-09-12"
    assert business_day_from_context({**keyed, "params": {"business_date": "2025-09-01"}}) == "2025-09-01"
    assert business_day_from_context({**context(), "dag_run": SimpleNamespace(partition_key="2025-09-11")}) == \
        "2025-09-11"


def test_events_of_several_days_are_never_resolved_by_the_first_one_found() -> None:
    from claims_dags._wiring import business_day_from_context

    events = {"claims://ledger/orders": [SimpleNamespace(partition_key="2025-09-11", extra={}),
                                         SimpleNamespace(partition_key="2025-09-12", extra={})]}
    with pytest.raises(ValueError, match="several business days"):
        business_day_from_context({**context(), "triggering_asset_events": events})


class FakeTI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.mark.parametrize("wait", [True, False])
def test_an_expected_partition_missing_fails_a_waiting_run_and_is_reported_by_run_day(
    dags: list[Any], monkeypatch: pytest.MonkeyPatch, wait: bool,  # noqa: F811
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    import claims.arrivals

    missing = "orders/platform=didi/date=2025-09-12/"
    report = {"source": "orders", "business_date": "2025-09-12", "not_arrived": [missing],
              "expected_missing": [missing]}
    monkeypatch.setattr(claims.arrivals, "arrival_report", lambda source, day, settings=None: report)
    task = by_id(dags)["ingest_orders"].get_task("check_arrivals")
    ti = FakeTI()
    run = {**context(business_date="2025-09-12", wait_for_markers=wait), "ti": ti}
    if wait:
        with pytest.raises(AirflowFailException, match=missing):
            task.python_callable({}, **run)
    else:
        assert task.python_callable({}, **run) == report
    assert ti.pushed["arrivals"] == report  # the run's note is made from it, failed or not


def test_a_past_day_does_not_wait_for_its_markers(dags: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import claims.ingest

    monkeypatch.setattr(claims.ingest, "pending_partitions", lambda source, day, settings=None: ["orders/x/"])
    sensor = by_id(dags)["ingest_orders"].get_task("partitions_arrived")
    past = sensor.python_callable(**context(business_date="2025-09-12"))
    assert past.is_done and past.xcom_value["not_arrived"] == ["orders/x/"]
    today = datetime.now(SHANGHAI).date().isoformat()  # its cut-off is tomorrow morning
    assert not sensor.python_callable(**context(business_date=today)).is_done
    assert sensor.python_callable(**context(business_date=today, wait_for_markers=False)).is_done


def test_the_payout_cutoff_is_read_when_the_task_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from claims_dags.payouts import payout_cutoff

    from claims.settings import ConfigurationError

    day = date(2025, 9, 12)
    assert payout_cutoff(day) == datetime(2025, 9, 13, 3, 0, tzinfo=SHANGHAI)
    monkeypatch.setenv("CLAIMS_PAYOUT_CUTOFF", "30 4 * * *")
    assert payout_cutoff(day) == datetime(2025, 9, 13, 4, 30, tzinfo=SHANGHAI)
    monkeypatch.setenv("CLAIMS_PAYOUT_CUTOFF", "at dawn")
    with pytest.raises(ConfigurationError):
        payout_cutoff(day)


def test_the_payouts_dag_has_one_shape_whatever_the_cutoff(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from claims_dags import DAGS_FOLDER

    shapes = []
    for cutoff in ("0 3 * * *", "45 5 * * *"):
        monkeypatch.setenv("CLAIMS_PAYOUT_CUTOFF", cutoff)
        bag = DagBag(str(DAGS_FOLDER / "payouts.py"))
        assert not bag.import_errors
        dag = bag.dags["payouts"]
        shapes.append((repr(dag.timetable), sorted(task.task_id for task in dag.tasks)))
    assert shapes[0] == shapes[1]
    assert "cutoff" not in shapes[0][0].lower() and "3 * * *" not in shapes[0][0]


def test_payouts_release_nothing_by_default_and_never_automatically_in_production(
    dags: list[Any], monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    import claims.payouts
    import claims.settings

    payouts = by_id(dags)["payouts"]
    assert payouts.params.get_param("auto_release").value is False
    assert payouts.catchup is False
    calls: list[Any] = []
    monkeypatch.setattr(claims.payouts, "pay_day", lambda day, **kwargs: calls.append(kwargs) or {"released": 0})

    class Accessor:
        extra: dict = {}  # noqa: RUF012

        def add_partitions(self, key: str) -> None:
            calls.append(("event", key))

    pay = payouts.get_task("pay")
    run = context()
    run["outlet_events"] = {payouts.get_task("pay").outlets[0]: Accessor()}
    monkeypatch.setattr(claims.settings, "load_settings", lambda: SimpleNamespace(environment="development"))
    pay.python_callable("2025-09-12", **run)
    assert calls == [{"auto_release": False}, ("event", "2025-09-12")]
    calls.clear()
    monkeypatch.setattr(claims.settings, "load_settings", lambda: SimpleNamespace(environment="production"))
    with pytest.raises(AirflowFailException, match="four eyes"):
        pay.python_callable("2025-09-12", **{**run, "params": {**run["params"], "auto_release": True}})
    assert calls == []


def test_the_arrival_cutoff_of_a_day_is_the_next_morning() -> None:
    from claims.arrivals import arrival_cutoff

    assert arrival_cutoff(date(2025, 9, 12)) - datetime(2025, 9, 12, tzinfo=SHANGHAI) == timedelta(hours=31)
