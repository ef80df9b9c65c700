"""Policy over the whole DagBag of ``dags/``: it parses without errors, database
queries, connection or variable look-ups or heavy imports, every DAG carries the
metadata operators rely on, and a task finds its business day as documented.

Airflow reads its configuration when it is imported, so the environment is set
at the top of this module, before anything imports airflow.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="claims-dag-tests-")
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{Path(_AIRFLOW_HOME) / 'airflow.db'}"

from claims_dags import DAGS_FOLDER  # noqa: E402
from claims_dags.runner import prepare_airflow_environment  # noqa: E402

prepare_airflow_environment()

EXPECTED_DAG_IDS = {"ingest_orders", "ingest_claims", "ingest_determinations", "ingest_bank_returns", "ingest_declarations", "adjudicate", "payouts", "reports"}

#: Every tag a DAG may carry: the domain tags every DAG has (``_wiring.TAGS``),
#: the stage, and the source a stage reads. A new tag is added here on purpose.
DOMAIN_TAGS = frozenset({"claims", "occupational-injury"})
STAGE_TAGS = frozenset({"ingest", "adjudicate", "payouts", "reports"})
SOURCE_TAGS = frozenset({"orders", "claims"})
KNOWN_TAGS = DOMAIN_TAGS | STAGE_TAGS | SOURCE_TAGS

#: Modules a DAG file must not import at module level (STYLE.md rule 7): they
#: belong inside tasks, so the scheduler's parse loop never pays for them.
HEAVY_MODULES = ("pandas", "pyarrow", "great_expectations", "boto3", "claims.ingest", "claims.ingest.pipeline")


# --------------------------------------------------------------------------- #
# Parsing under watch
# --------------------------------------------------------------------------- #


@dataclass
class ParseRecord:
    """What a parse did that it should not have."""

    statements: list[str] = field(default_factory=list)
    checkouts: int = 0
    lookups: list[str] = field(default_factory=list)


def _lookup_targets() -> list[tuple[Any, str, str]]:
    """Every way a DAG file could reach a connection or a variable: the Task SDK's
    classes, the functions they delegate to, and the legacy ``airflow.models`` ones."""
    from airflow.models.connection import Connection as ModelConnection
    from airflow.models.variable import Variable as ModelVariable
    from airflow.sdk import BaseHook, Connection, Variable
    from airflow.sdk.execution_time import context as sdk_context

    return [
        (Variable, "get", "airflow.sdk.Variable.get"),
        (Connection, "get", "airflow.sdk.Connection.get"),
        (BaseHook, "get_connection", "airflow.sdk.BaseHook.get_connection"),
        (sdk_context, "_get_variable", "airflow.sdk execution_time _get_variable"),
        (sdk_context, "_get_connection", "airflow.sdk execution_time _get_connection"),
        (ModelVariable, "get", "airflow.models.Variable.get"),
        (ModelVariable, "get_variable_from_secrets", "airflow.models.Variable.get_variable_from_secrets"),
        (ModelConnection, "get_connection_from_secrets", "airflow.models.Connection.get_connection_from_secrets"),
    ]


@contextmanager
def watching_parse() -> Iterator[ParseRecord]:
    """Count every SQL statement and pool checkout of any engine, and refuse (and
    record) every connection or variable look-up, while the block runs."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    record = ParseRecord()

    def on_statement(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        record.statements.append(statement)

    def on_checkout(dbapi_connection, connection_record, connection_proxy):  # type: ignore[no-untyped-def]
        record.checkouts += 1

    def refusing(name: str):  # type: ignore[no-untyped-def]
        def refuse(*args: Any, **kwargs: Any) -> Any:
            record.lookups.append(f"{name}{args!r}")
            raise AssertionError(f"{name} called while parsing DAG files")

        return refuse

    event.listen(Engine, "before_cursor_execute", on_statement)
    event.listen(Pool, "checkout", on_checkout)
    try:
        with ExitStack() as patches:
            for owner, attribute, name in _lookup_targets():
                patches.enter_context(mock.patch.object(owner, attribute, refusing(name)))
            yield record
    finally:
        event.remove(Engine, "before_cursor_execute", on_statement)
        event.remove(Pool, "checkout", on_checkout)


@dataclass
class ParsedFolder:
    bag: Any
    record: ParseRecord


@pytest.fixture(scope="module")
def parsed() -> ParsedFolder:
    from airflow.dag_processing.dagbag import DagBag

    with watching_parse() as record:
        bag = DagBag(str(DAGS_FOLDER))
    return ParsedFolder(bag, record)


@pytest.fixture(scope="module")
def dags(parsed: ParsedFolder) -> list[Any]:
    assert parsed.bag.dags, f"no DAG found in {DAGS_FOLDER}"
    return [parsed.bag.dags[dag_id] for dag_id in sorted(parsed.bag.dags)]


# --------------------------------------------------------------------------- #
# The bag
# --------------------------------------------------------------------------- #


def test_no_import_errors(parsed: ParsedFolder) -> None:
    assert parsed.bag.import_errors == {}


def test_dags_are_found(parsed: ParsedFolder) -> None:
    assert len(parsed.bag.dags) >= 1, f"no DAG found in {DAGS_FOLDER}"
    missing = EXPECTED_DAG_IDS - set(parsed.bag.dags)
    assert not missing, f"expected DAGs not found: {sorted(missing)}"


def test_airflowignore_keeps_helpers_out_of_the_parse(parsed: ParsedFolder) -> None:
    """``_*.py`` and ``runner.py`` are wiring, not DAG files: the parser skips them."""
    parsed_files = {stat.file for stat in parsed.bag.dagbag_stats}
    assert parsed_files, "the parser read no file"
    helpers = {name for name in parsed_files if Path(name).name.startswith("_") or Path(name).name == "runner.py"}
    assert not helpers, f"helper modules parsed as DAG files: {sorted(helpers)}"


# --------------------------------------------------------------------------- #
# Policy, DAG by DAG
# --------------------------------------------------------------------------- #


def _assert_no_violations(violations: list[str]) -> None:
    assert not violations, "\n".join(violations)


def test_every_dag_has_doc_md(dags: list[Any]) -> None:
    _assert_no_violations([f"{dag.dag_id}: no doc_md" for dag in dags if not (dag.doc_md or "").strip()])


def test_tags_are_known(dags: list[Any]) -> None:
    violations = []
    for dag in dags:
        if not dag.tags:
            violations.append(f"{dag.dag_id}: no tags")
        if unknown := set(dag.tags) - KNOWN_TAGS:
            violations.append(f"{dag.dag_id}: unknown tags {sorted(unknown)} (known: {sorted(KNOWN_TAGS)})")
        if missing := DOMAIN_TAGS - set(dag.tags):
            violations.append(f"{dag.dag_id}: missing domain tags {sorted(missing)}")
    _assert_no_violations(violations)


def test_owner_is_a_team_not_airflow(dags: list[Any]) -> None:
    violations = []
    for dag in dags:
        owner = str((dag.default_args or {}).get("owner") or "").strip()
        if not owner or owner.lower() == "airflow":
            violations.append(f"{dag.dag_id}: default_args owner is {owner!r}")
        violations += [
            f"{dag.dag_id}.{task.task_id}: owner is {task.owner!r}"
            for task in dag.tasks
            if str(task.owner or "").strip().lower() in ("", "airflow")
        ]
    _assert_no_violations(violations)


def test_every_task_retries_and_alerts(dags: list[Any]) -> None:
    violations = []
    for dag in dags:
        for task in dag.tasks:
            if (task.retries or 0) < 1:
                violations.append(f"{dag.dag_id}.{task.task_id}: retries={task.retries}")
            if not task.on_failure_callback:
                violations.append(f"{dag.dag_id}.{task.task_id}: no on_failure_callback")
    _assert_no_violations(violations)


def test_runs_do_not_overlap_or_backfill(dags: list[Any]) -> None:
    violations = []
    for dag in dags:
        if dag.max_active_runs != 1:
            violations.append(f"{dag.dag_id}: max_active_runs={dag.max_active_runs}")
        if dag.catchup is not False:
            violations.append(f"{dag.dag_id}: catchup={dag.catchup}")
    _assert_no_violations(violations)


def test_start_date_and_schedule_are_explicit(dags: list[Any]) -> None:
    violations = []
    for dag in dags:
        if dag.start_date is None:
            violations.append(f"{dag.dag_id}: no start_date")
        elif dag.start_date.tzinfo is None:
            violations.append(f"{dag.dag_id}: naive start_date {dag.start_date}")
        if dag.schedule is None or type(dag.timetable).__name__ == "NullTimetable":
            violations.append(f"{dag.dag_id}: no schedule")
    _assert_no_violations(violations)


def test_business_date_is_a_param(dags: list[Any]) -> None:
    """Empty (or null, as a form may send it) means the run's partition key; a
    date must be YYYY-MM-DD; anything else is refused before the run starts."""
    from airflow.sdk import ParamsDict

    violations = []
    for dag in dags:
        if "business_date" not in dag.params:
            violations.append(f"{dag.dag_id}: no business_date param")
            continue
        param = dag.params.get_param("business_date")
        if "string" not in param.schema.get("type", ()) or param.value != "":
            violations.append(
                f"{dag.dag_id}: business_date must be a string defaulting to '' (the run's partition key), "
                f"got type={param.schema.get('type')!r} default={param.value!r}"
            )
        for accepted in ("", None, "2025-09-12"):
            try:
                ParamsDict({"business_date": type(param)(accepted, **param.schema)}).validate()
            except Exception as error:  # noqa: BLE001 - any refusal is the finding
                violations.append(f"{dag.dag_id}: business_date {accepted!r} refused: {error}")
        for refused in ("2025/09/12", "12-09-2025"):
            with pytest.raises(Exception):  # noqa: B017, PT011 - Airflow's ParamValidationError
                ParamsDict({"business_date": type(param)(refused, **param.schema)}).validate()
    _assert_no_violations(violations)


# --------------------------------------------------------------------------- #
# What parsing must not do
# --------------------------------------------------------------------------- #


def test_parsing_makes_no_database_query(parsed: ParsedFolder) -> None:
    assert parsed.record.statements == []
    assert parsed.record.checkouts == 0, "a database connection was checked out while parsing"


def test_parsing_looks_up_no_connection_or_variable(parsed: ParsedFolder) -> None:
    assert parsed.record.lookups == []


CANARY_DAG = '''
"""A DAG file that does at parse time everything the policy forbids."""
from airflow.models import Variable as ModelVariable
from airflow.sdk import DAG, BaseHook, Variable
from sqlalchemy import create_engine, text

for lookup in (lambda: Variable.get("k"), lambda: ModelVariable.get("k"), lambda: BaseHook.get_connection("c")):
    try:
        lookup()
    except AssertionError:
        pass
with create_engine("sqlite://").connect() as connection:
    connection.execute(text("SELECT 1"))

with DAG("canary", schedule=None):
    pass
'''


def test_the_watch_catches_a_misbehaving_dag_file(tmp_path: Path) -> None:
    """The two tests above would pass vacuously if the watch saw nothing."""
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "canary.py").write_text(CANARY_DAG, encoding="utf-8")
    with watching_parse() as record:
        bag = DagBag(str(tmp_path))
    assert bag.import_errors == {}
    assert "SELECT 1" in record.statements
    assert record.checkouts >= 1
    assert [lookup.split("(")[0] for lookup in record.lookups] == [
        "airflow.sdk.Variable.get", "airflow.models.Variable.get", "airflow.sdk.BaseHook.get_connection",
    ]


# --------------------------------------------------------------------------- #
# No heavy import at DAG module level
# --------------------------------------------------------------------------- #

_IMPORT_PROBE = r"""
import json, sys
from claims_dags.runner import prepare_airflow_environment
prepare_airflow_environment()
import airflow
from airflow.dag_processing.dagbag import DagBag
folder, watched = sys.argv[1], json.loads(sys.argv[2])
baseline = [m for m in watched if m in sys.modules]
bag = DagBag(folder)
after_parse = [m for m in watched if m in sys.modules]
print("PROBE " + json.dumps({
    "baseline": baseline, "after_parse": after_parse,
    "dag_ids": sorted(bag.dags), "errors": sorted(bag.import_errors),
}))
"""


@pytest.fixture(scope="module", autouse=True)
def import_probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    """A fresh interpreter that imports Airflow and its DAG parser (the baseline:
    whatever Airflow itself loads), then parses the folder. Autouse so that it
    starts first and runs while this process imports Airflow for the other tests."""
    process = subprocess.Popen(
        [sys.executable, "-c", _IMPORT_PROBE, str(DAGS_FOLDER), json.dumps(HEAVY_MODULES)],
        cwd=tmp_path_factory.mktemp("import-probe"), env=dict(os.environ),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_dag_files_import_nothing_heavy(import_probe: subprocess.Popen[str]) -> None:
    stdout, stderr = import_probe.communicate(timeout=300)
    assert import_probe.returncode == 0, f"probe failed ({import_probe.returncode}):\n{stderr[-4000:]}"
    lines = [line for line in stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, f"probe printed no result:\n{stdout[-2000:]}\n{stderr[-2000:]}"
    probe = json.loads(lines[-1].removeprefix("PROBE "))
    assert EXPECTED_DAG_IDS <= set(probe["dag_ids"]), f"the probe parsed {probe['dag_ids']}, errors {probe['errors']}"
    added = sorted(set(probe["after_parse"]) - set(probe["baseline"]))
    assert not added, f"parsing the DAG files imported {added}: import them inside the tasks"


# --------------------------------------------------------------------------- #
# The business day a task works on
# --------------------------------------------------------------------------- #


def _context(business_date: str = "", events: dict | None = None, **intervals: Any) -> dict[str, Any]:
    return {"params": {"business_date": business_date}, "triggering_asset_events": events or {}, **intervals}


def _event(extra: dict | None) -> SimpleNamespace:
    return SimpleNamespace(extra=extra)


ASSET = "claims://ledger/orders"


def test_explicit_param_wins() -> None:
    from claims_dags._wiring import business_day_from_context

    context = _context(
        "2025-08-15",
        events={ASSET: [_event({"business_date": "2025-09-03"})]},
        data_interval_start=datetime(2025, 9, 1, 17, tzinfo=UTC),
    )
    assert business_day_from_context(context) == "2025-08-15"


def test_asset_event_business_date_comes_next() -> None:
    from claims_dags._wiring import business_day_from_context

    context = _context(
        events={ASSET: [_event(None), _event({}), _event({"business_date": "2025-09-03"})]},
        data_interval_start=datetime(2025, 9, 1, 17, tzinfo=UTC),
    )
    assert business_day_from_context(context) == "2025-09-03"


@pytest.mark.parametrize(
    ("start", "day"),
    [
        (datetime(2025, 9, 1, 17, 0, tzinfo=UTC), "2025-09-02"),  # 01:00 in Shanghai
        (datetime(2025, 9, 1, 15, 59, tzinfo=UTC), "2025-09-01"),  # 23:59 in Shanghai
        (datetime(2025, 9, 1, 16, 0, tzinfo=UTC), "2025-09-02"),  # midnight in Shanghai
        (datetime(2025, 9, 1, 17, 0), "2025-09-02"),  # naive means UTC
    ],
)
def test_else_the_data_interval_start_in_shanghai(start: datetime, day: str) -> None:
    from claims_dags._wiring import business_day_from_context

    events_without_a_day = {ASSET: [_event({"source": "orders"})]}
    assert business_day_from_context(_context(events=events_without_a_day, data_interval_start=start)) == day


def test_logical_date_when_there_is_no_data_interval() -> None:
    from claims_dags._wiring import business_day_from_context

    context = _context(data_interval_start=None, logical_date=datetime(2025, 9, 1, 17, tzinfo=UTC))
    assert business_day_from_context(context) == "2025-09-02"


def test_nothing_to_go_on_is_an_error() -> None:
    from claims_dags._wiring import business_day_from_context

    with pytest.raises(ValueError, match="business_date"):
        business_day_from_context(_context(data_interval_start=None, logical_date=None))


@pytest.mark.parametrize("bad", ["2025-02-30", "2025/09/01", "not-a-date", "2025-9-1"])
def test_a_bad_date_is_a_value_error(bad: str) -> None:
    from claims_dags._wiring import business_day_from_context

    start = datetime(2025, 9, 1, 17, tzinfo=UTC)
    with pytest.raises(ValueError):
        business_day_from_context(_context(bad, data_interval_start=start))
    with pytest.raises(ValueError):
        business_day_from_context(_context(events={ASSET: [_event({"business_date": bad})]}, data_interval_start=start))


def test_every_stage_runs_on_an_asset_an_upstream_stage_emits(dags: list[Any]) -> None:
    """Lineage: the assets adjudicate and reports are scheduled on are outlets of the
    stages before them (the payouts DAG emits the asset the reports DAG waits for)."""
    def uris(condition: Any) -> set[str]:  # an Asset, or AssetAll / AssetAny of conditions
        if hasattr(condition, "uri"):
            return {condition.uri}
        return set().union(*(uris(part) for part in condition.objects))

    by_id = {dag.dag_id: dag for dag in dags}
    emitted = {outlet.uri for dag in dags for task in dag.tasks for outlet in getattr(task, "outlets", [])}
    for consumer in ("adjudicate", "reports"):
        wanted = uris(by_id[consumer].timetable.asset_condition)
        assert wanted and wanted <= emitted, (consumer, wanted - emitted)
    assert "claims://ledger/payouts" in {outlet.uri for task in by_id["payouts"].tasks for outlet in task.outlets}
