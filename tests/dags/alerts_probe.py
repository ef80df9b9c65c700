"""Run by tests/dags/test_alerts.py in a fresh process (Airflow reads its
configuration once, at import): drives each alert of claims_dags._alerts through
Airflow 3.3's own machinery on a SQLite metadata database and prints what
happened as one JSON document on the last line of stdout.

- a task failure: ``dag.test()`` of a DAG whose task raises, with
  ``FAILURE_NOTIFIERS`` as its ``on_failure_callback``;
- the deadline alerts: runs of a DAG with ``payouts_deadline()`` and
  ``ingestion_deadline()`` are created from its serialised form with
  ``create_dagrun``, as the scheduler creates them (the ``deadline`` rows,
  evaluated by the plugin's custom reference), and finished by
  ``DagRun.update_state`` (which drops deadlines met in time); then the
  scheduler loop's deadline step (the same query and ``Deadline.handle_miss``)
  queues the callbacks of the missed ones, and each queued callback is run by
  ``CallbackTrigger``, the trigger the triggerer runs for it.

argv: AIRFLOW_HOME-like work folder, the business day that is late, a business
day whose deadlines lie in the future.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

work = Path(sys.argv[1])
late_day, timely_day = sys.argv[2], sys.argv[3]
dags = work / "dags"
dags.mkdir(parents=True, exist_ok=True)
(dags / "probe_dags.py").write_text('''
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, task
from claims_dags._alerts import FAILURE_NOTIFIERS, ingestion_deadline, payouts_deadline

PARAMS = {"business_date": Param("", type="string")}

with DAG("probe_failure", schedule=None, start_date=pendulum.datetime(2025, 7, 1), catchup=False, params=PARAMS,
         default_args={"retries": 0, "on_failure_callback": FAILURE_NOTIFIERS}):
    @task
    def pay():
        raise RuntimeError("ledger unreachable: connection refused")
    pay()

with DAG("probe_deadlines", schedule=None, start_date=pendulum.datetime(2025, 7, 1), catchup=False, params=PARAMS,
         deadline=[payouts_deadline(), ingestion_deadline()]):
    @task
    def work():
        return "done"
    work()
''')
# A local SMTP server: the alerts' e-mails go through the smtp provider's
# SmtpNotifier to it (the connection smtp_default, as an AIRFLOW_CONN_ variable).
import asyncore  # noqa: E402
import smtpd  # noqa: E402  (Python 3.11's; deprecated, enough for a test receiver)
import threading  # noqa: E402
import warnings  # noqa: E402
from email import message_from_bytes  # noqa: E402

warnings.simplefilter("ignore")
mails: list[dict] = []


class Receiver(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):  # type: ignore[no-untyped-def]
        message = message_from_bytes(data if isinstance(data, bytes) else data.encode())
        body = next((part.get_payload(decode=True).decode() for part in message.walk()
                     if part.get_content_type() == "text/html"), "")
        mails.append({"to": rcpttos, "from": mailfrom, "subject": str(message["Subject"]), "body": body})


receiver = Receiver(("127.0.0.1", 0), None, decode_data=False)
port = receiver.socket.getsockname()[1]
threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1}, daemon=True).start()
os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = (
    f"smtp://127.0.0.1:{port}?disable_tls=true&disable_ssl=true&from_email=claims%40example.org&retry_limit=0")

os.environ["AIRFLOW_HOME"] = str(work)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{work / 'airflow.db'}"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"

from airflow import settings  # noqa: E402

settings.configure_orm()
from airflow.utils.db import upgradedb  # noqa: E402

upgradedb()

alerts: list[dict] = []


class Keep(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("{"):
            alerts.append(json.loads(message))


logging.getLogger("claims.alerts").addHandler(Keep())

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

bag = DagBag(str(dags))
assert not bag.import_errors, bag.import_errors
result: dict = {"alerts": alerts}

failed = bag.dags["probe_failure"].test(run_conf={"business_date": late_day})
result["failure_run"] = {"state": str(failed.state), "run_id": failed.run_id}

from airflow._shared.timezones import timezone  # noqa: E402
from airflow.models import DagRun  # noqa: E402
from airflow.models.deadline import Deadline  # noqa: E402
from airflow.models.serialized_dag import SerializedDagModel  # noqa: E402
from airflow.utils.session import create_session  # noqa: E402
from airflow.utils.state import DagRunState, TaskInstanceState  # noqa: E402
from airflow.utils.types import DagRunTriggeredByType, DagRunType  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

# dag.test() above wrote every DAG of the folder to the metadata database. The
# deadline runs are made from the serialised DAG as the scheduler makes them
# (dag.test() of a DAG with deadlines fails in 3.3.2 when its run ends: it hands
# DagRun.update_state the encoded alerts instead of their ids), and finished by
# DagRun.update_state, the scheduler's own step, which drops deadlines met in time.
runs = {}
with create_session() as session:
    serdag = SerializedDagModel.get_dag("probe_deadlines", session=session)
    # the late day as the scheduler runs it, the timely day by hand before its
    # deadline, and a re-run by hand of the late day (no deadline: it is on purpose)
    for day, run_type, label in ((late_day, DagRunType.SCHEDULED, late_day), (timely_day, DagRunType.MANUAL, timely_day),
                                 (late_day, DagRunType.MANUAL, f"rerun {late_day}")):
        run = serdag.create_dagrun(
            run_id=f"{run_type.value}__probe_{label.replace(' ', '_')}", logical_date=None, data_interval=None,
            run_after=timezone.utcnow(), conf={"business_date": day}, run_type=run_type,
            triggered_by=DagRunTriggeredByType.TEST, state=DagRunState.RUNNING, start_date=timezone.utcnow(),
            session=session)
        runs[label] = run.run_id
    session.commit()
    result["deadlines_created"] = sorted(
        [{"day": next(d for d, r in runs.items() if r == run_id), "deadline": when.isoformat()}
         for when, run_id in session.execute(select(Deadline.deadline_time, DagRun.run_id)
                                             .join(DagRun, DagRun.id == Deadline.dagrun_id)).all()],
        key=lambda row: (row["day"], row["deadline"]))
    for run in session.scalars(select(DagRun).where(DagRun.dag_id == "probe_deadlines")):
        run.dag = serdag
        for ti in run.get_task_instances(session=session):
            ti.state = TaskInstanceState.SUCCESS
            ti.end_date = timezone.utcnow()
        session.flush()
        run.update_state(session=session)
        result.setdefault("deadline_runs", {})[run.run_id] = str(run.state)
    session.commit()
with create_session() as session:
    result["deadlines_left"] = sorted(
        next(d for d, r in runs.items() if r == run_id)
        for (run_id,) in session.execute(select(DagRun.run_id).join(Deadline, DagRun.id == Deadline.dagrun_id)))

# The scheduler loop's deadline step (SchedulerJobRunner._run_scheduler_loop, 3.3.2).
with create_session() as session:
    query = (select(Deadline).where(Deadline.deadline_time < timezone.utcnow()).where(~Deadline.missed)
             .options(selectinload(Deadline.callback), selectinload(Deadline.dagrun)))
    for deadline in session.scalars(query):
        deadline.handle_miss(session)
with create_session() as session:
    queued = [(deadline.callback.data, str(deadline.callback.state), type(deadline.callback).__name__)
              for deadline in session.scalars(select(Deadline).where(Deadline.missed)
                                              .options(selectinload(Deadline.callback)))]
result["callbacks"] = [{"path": data["path"], "kind": data["kwargs"].get("kind"), "state": state, "type": kind}
                       for data, state, kind in queued]

# What the triggerer runs for each queued callback.
from airflow.triggers.callback import CallbackTrigger  # noqa: E402


async def run_callbacks() -> list[str]:
    states = []
    for data, _, _ in queued:
        trigger = CallbackTrigger(callback_path=data["path"], callback_kwargs=dict(data["kwargs"]))
        async for event in trigger.run():
            states.append(str(event.payload["state"]))
            if event.payload.get("body") and "FAILED" in str(event.payload["state"]).upper():
                states.append(str(event.payload["body"])[-400:])
    return states

result["trigger_events"] = asyncio.run(run_callbacks())
import time  # noqa: E402

time.sleep(0.5)  # the receiver thread
result["mails"] = mails
print(json.dumps(result, default=str))
