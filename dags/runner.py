"""``claims run-day D``: run every DAG of day D in order through Airflow's own
``dag.test()``, with no scheduler or webserver.

Airflow's traps, designed around here:
- ``dag.test()`` makes a manual run with a logical date, no partition key and the
  user ``dag_test``, and first deletes the runs of that logical date (with none:
  every run without one, i.e. every partitioned run). ``business_day_runs``
  replaces the two helpers it calls for that (``get_or_create_dagrun`` and
  ``clear_dags``): each run-day run is a new manual run whose partition key is the
  business day, triggered from the CLI by ``claims run-day``, with real start and
  end times; earlier runs of the day are kept;
- ``dag.test()`` runs tasks in this process and writes no task log file: each
  task's output goes to the file the UI reads (the ``[logging]`` filename template
  under ``base_log_folder``) and then into run-day's own log;
- a task's exception is logged, not raised: the exit code comes from task states;
- a retry would wait out ``retry_delay``: retries are off for these runs;
- a sensor would wait for its markers: ``wait_for_markers`` is false, so a missing
  partition is reported (summary, the run's note) instead of waited for or failed;
- the business date is passed explicitly as a parameter and as the partition key,
  never derived from the clock;
- payouts are released automatically (and recorded so) outside production:
  run-day is the embedded, single-operator path; production releases go through
  `claims payouts approve`;
- dag.test() logs a failed task's traceback, it does not return it: each task's
  failure callback also records its exception, so the summary names the cause;
- two run-days on one AIRFLOW_HOME would clash in Airflow's tables and in the
  ledger: ``run_day_lock`` lets one run at a time and names it to the other.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

DAGS_FOLDER = Path(__file__).parent
DAG_ORDER = (
    "ingest_orders", "ingest_claims", "ingest_determinations", "ingest_bank_returns", "ingest_declarations",
    "adjudicate", "payouts", "reports",
)
OK_STATES = {"success", "skipped"}


def prepare_airflow_environment() -> Path:
    """Point Airflow at this DAG folder and a metadata DB under AIRFLOW_HOME
    (default ``./var/airflow``). Must run before Airflow is imported."""
    warnings.simplefilter("ignore")  # Airflow's own deprecation chatter is not for operators
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    home = Path(os.environ.setdefault("AIRFLOW_HOME", str(Path.cwd() / "var" / "airflow"))).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    # INFO, as under the scheduler: a task's log in the UI shows its per-file and
    # per-step lines (the terminal shows only the summary: output_to keeps the rest)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    return home


@dataclass
class DagOutcome:
    dag_id: str
    state: str
    task_states: dict[str, str] = field(default_factory=dict)
    #: task id -> the exception it failed with, in one line
    causes: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(state not in OK_STATES for state in self.task_states.values()) or self.state != "success"


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= 240 else text[:239] + "…"


class RunDayBusy(RuntimeError):
    """Another run-day holds this AIRFLOW_HOME."""


@contextlib.contextmanager
def run_day_lock(home: Path, day: date, path: Path | None = None, where: str = "") -> Iterator[None]:
    """One run-day at a time per AIRFLOW_HOME: an exclusive lock on
    ``run-day.lock`` (released by the system when the holder ends, even by kill -9);
    a second run-day refuses at once, naming the first. ``path`` and ``where``: the
    same lock on another file (a SQLite ledger's), said as ``where``."""
    where = where or f"with AIRFLOW_HOME {home}"
    path = path or home / "run-day.lock"
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except ValueError:
                holder = {}
            raise RunDayBusy(
                f"another claims run-day (day {holder.get('day', '?')}, pid {holder.get('pid', '?')}, started "
                f"{holder.get('started', '?')}) is running {where}: wait for it to end, "
                "then run this day again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"day": day.isoformat(), "pid": os.getpid(),
                                 "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


#: The PostgreSQL advisory lock a run-day holds on its ledger (payouts' day locks are 7_300_000_000 + n).
LEDGER_LOCK_KEY = 7_299_000_001


@contextlib.contextmanager
def ledger_lock(database_url: str, home: Path, day: date) -> Iterator[None]:
    """One run-day at a time per ledger as well (two AIRFLOW_HOMEs, one ledger): a
    session advisory lock on PostgreSQL, the run-day lock on a file beside a SQLite
    ledger. A ledger that cannot be reached is not locked: the run says why it failed."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            yield
            return
        lock = Path(url.database + ".run-day.lock")
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            lock.touch()
        except OSError:  # an unwritable folder: the ledger cannot be written either, the run says so
            yield
            return
        with run_day_lock(home, day, lock, f"on the ledger {url.database}"):
            yield
        return
    if url.get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(url)
    try:
        connection = engine.connect()
    except Exception:  # noqa: BLE001 - unreachable: the run reports it
        engine.dispose()
        yield
        return
    try:
        locked = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LEDGER_LOCK_KEY}).scalar()
        if not locked:
            holder = connection.execute(text(
                "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.objid = :low AND l.classid = :high "
                "AND l.granted LIMIT 1"),
                {"low": LEDGER_LOCK_KEY & 0xFFFFFFFF, "high": LEDGER_LOCK_KEY >> 32}).first()
            since = f", connected since {holder.backend_start:%Y-%m-%d %H:%M:%S %Z}" if holder else ""
            raise RunDayBusy(f"another claims run-day is running on this ledger ({url.database} on "
                             f"{url.host}{since}), from another AIRFLOW_HOME: wait for it to end, "
                             "then run this day again")
        connection.commit()
        yield
    finally:
        with contextlib.suppress(Exception):  # dropped meanwhile: the lock went with its session
            connection.close()
        engine.dispose()


def _recording_failures(task, causes: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Add a failure callback to ``task`` that keeps its exception in ``causes``."""
    def record(context) -> None:  # type: ignore[no-untyped-def]
        error = context.get("exception")
        if error is not None:
            causes[task.task_id] = one_line(error) if isinstance(error, BaseException) else str(error)

    existing = task.on_failure_callback
    callbacks = list(existing) if isinstance(existing, (list, tuple)) else [existing] if existing else []
    task.on_failure_callback = [record, *callbacks]


def migrate_metadata_db() -> None:
    from airflow.utils.db import upgradedb

    upgradedb()


#: Who triggered run-day's runs, as the UI shows it.
RUN_DAY_USER = "claims run-day"


@contextlib.contextmanager
def business_day_runs(day: date) -> Iterator[list]:  # type: ignore[type-arg]
    """While active, ``dag.test()`` makes a partitioned manual run for ``day`` (never
    deleting or clearing earlier runs) and writes each task's log file. Yields the
    list of the runs made."""
    from unittest import mock

    from airflow._shared.timezones import timezone
    from airflow.models import dagrun as dagrun_module
    from airflow.sdk.definitions import dag as sdk_dag
    from airflow.serialization.definitions.dag import SerializedDAG
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    key = day.isoformat()
    made: list = []  # type: ignore[type-arg]
    run_task = sdk_dag._run_task

    def create_run(*, dag, conf, session, **_ignored):  # type: ignore[no-untyped-def]
        now = timezone.utcnow()
        run = dag.create_dagrun(
            run_id=f"manual__{key}__{now.isoformat()}",  # the day first: the runs list cuts long ids
            logical_date=None, data_interval=None, run_after=now, conf=conf,
            run_type=DagRunType.MANUAL, state=DagRunState.RUNNING,
            triggered_by=DagRunTriggeredByType.CLI, triggering_user_name=RUN_DAY_USER,
            start_date=now, partition_key=key, partition_date=partition_date_of(dag.timetable, day),
            session=session,
        )
        made.append(run)
        return run

    def run_task_logged(*, ti, task, run_triggerer=False):  # type: ignore[no-untyped-def]
        path = task_log_path(ti)
        with output_to(path):
            result = run_task(ti=ti, task=task, run_triggerer=run_triggerer)
        with contextlib.suppress(OSError):  # run-day's own log keeps everything too
            os.write(1, path.read_bytes())
        return result

    with mock.patch.object(dagrun_module, "get_or_create_dagrun", create_run), \
            mock.patch.object(SerializedDAG, "clear_dags", lambda *args, **kwargs: 0), \
            mock.patch.object(sdk_dag, "_run_task", run_task_logged):
        yield made


def partition_date_of(timetable, day: date):  # type: ignore[no-untyped-def]
    """The partition date the scheduler and Airflow's backfill give day's run (the
    cron tick of a CronPartitionTimetable: a backfill then knows run-day's runs),
    else what the timetable decodes from the key."""
    from zoneinfo import ZoneInfo

    start = datetime.combine(day, datetime.min.time(), ZoneInfo("Asia/Shanghai"))
    with contextlib.suppress(NotImplementedError):  # asset-partitioned: no cadence of its own
        for info in timetable.iter_partition_dagrun_infos(
                earliest=start, latest=start.replace(hour=23, minute=59, second=59)):
            return info.partition_date
    return timetable.resolve_partition_date(day.isoformat())


def task_log_path(ti) -> Path:  # type: ignore[no-untyped-def]
    """Where the UI reads this attempt's log: ``[logging] base_log_folder`` and
    ``log_filename_template``, as Airflow's FileTaskHandler renders them."""
    from airflow.configuration import conf
    from airflow.utils.log.file_task_handler import FileTaskHandler

    base = Path(conf.get("logging", "base_log_folder")).expanduser()
    relative = FileTaskHandler(str(base))._render_filename(ti, ti.try_number)
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """This process's stdout and stderr (file descriptors 1 and 2) go to ``path`` meanwhile."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        os.close(saved[0])
        os.close(saved[1])


def run_dags(day: date, dag_ids: tuple[str, ...] = DAG_ORDER, *, auto_release: bool = True) -> list[DagOutcome]:
    prepare_airflow_environment()
    from airflow import settings as airflow_settings

    airflow_settings.configure_orm()
    warnings.simplefilter("ignore")  # Airflow's start-up turned warnings back on
    migrate_metadata_db()
    from airflow.dag_processing.dagbag import DagBag
    from claims_dags._notes import write_note

    bag = DagBag(str(DAGS_FOLDER))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    outcomes = []
    for dag_id in dag_ids:
        dag = bag.dags[dag_id]
        causes: dict[str, str] = {}
        for task in dag.tasks:
            task.retries = 0
            _recording_failures(task, causes)
        # Deadline alerts are the scheduler's (dags/_alerts.py); and dag.test() of a DAG
        # with deadlines fails in 3.3.2 when its run ends (update_state gets the encoded
        # alerts, not their ids).
        dag.deadline = None
        conf: dict[str, object] = {"business_date": day.isoformat(), "wait_for_markers": False}
        if "auto_release" in dag.params:
            conf["auto_release"] = auto_release  # run-day releases its payouts itself, recorded as automatic
        with business_day_runs(day) as made:
            run = dag.test(logical_date=None, run_conf=conf)
        session = airflow_settings.Session()
        try:
            run = session.merge(made[-1]) if made else session.merge(run)
            write_note(run, session, made_by=RUN_DAY_USER)
            session.commit()
            states = {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state)
                      for ti in run.get_task_instances(session=session)}
            state = str(run.state.value if hasattr(run.state, "value") else run.state)
        finally:
            session.close()
        outcomes.append(DagOutcome(dag_id, state, states, causes))
        logging.getLogger(__name__).info("%s: %s %s", dag_id, state, states)
    return outcomes
