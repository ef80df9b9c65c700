"""Alerts through Airflow's own mechanisms: failure notifiers and deadline alerts.

- :class:`ClaimsAlertNotifier` is a ``BaseNotifier``. Every alert writes one JSON
  line on the logger ``claims.alerts`` (level ERROR): ``alert``, ``dag``, ``task``,
  ``run``, ``business_date``, ``cause`` (and ``deadline`` for a deadline alert), for
  log shipping to page on. When ``CLAIMS_ALERT_EMAIL`` is set (environment, else
  the Airflow variable ``claims_alert_email``) it also hands the alert to the smtp
  provider's ``SmtpNotifier`` over the connection ``CLAIMS_ALERT_SMTP_CONN_ID``
  (default ``smtp_default``). Both are read when an alert fires, not when a DAG
  file is parsed: the DAGs' shape does not depend on them.
- :data:`FAILURE_NOTIFIERS`: the tasks' ``on_failure_callback``.
- :func:`payouts_deadline` and :func:`ingestion_deadline`: Airflow 3 deadline
  alerts (``DAG(deadline=...)``). The scheduler evaluates the deadline when it
  creates a run (a ``deadline`` row), fires the callback in the triggerer when
  the run has not finished by then, and drops it when the run finishes in time.
  The time is the business day's next calendar day (Asia/Shanghai) at the payouts
  cut-off (``CLAIMS_PAYOUT_CUTOFF``) plus ``CLAIMS_PAYOUTS_DEADLINE_MARGIN_MINUTES``
  (default 60), or at ``CLAIMS_INGEST_DEADLINE`` (``HH:MM``, default ``07:00``).
  Those settings are read by the scheduler when it creates the run (environment,
  else the Airflow variable of the lower-case name). Backfills, and manual runs
  made after their deadline, get none (:func:`deadline_applies`).

:class:`BusinessDayDeadline` is a custom deadline reference: Airflow's scheduler
finds it through the plugin ``claims`` (``claims_dags._plugin``, the entry point
``airflow.plugins`` in setup.cfg), as custom references must be registered.

Nothing here imports Airflow's core at module level (a DAG file imports this in a
worker that may have only the Task SDK): the core is imported where the
scheduler evaluates a deadline.
"""

from __future__ import annotations

import html
import json
import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import AsyncCallback
from airflow.sdk.bases.notifier import BaseNotifier
from airflow.sdk.definitions.deadline import BaseDeadlineReference, DeadlineAlert

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALERT_LOGGER = "claims.alerts"


# --------------------------------------------------------------------------- #
# What an alert says
# --------------------------------------------------------------------------- #


def _get(obj: Any, name: str) -> Any:
    """A field of a context entry: an object (a task's context) or a dict (the
    deadline context the scheduler serialises)."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _day_of(value: Any) -> str:
    """A business day ``YYYY-MM-DD`` from a partition key, a parameter or an instant."""
    if not value:
        return ""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))).astimezone(SHANGHAI).date().isoformat()
    text = str(value)
    try:
        return date.fromisoformat(text[:10]).isoformat() if len(text) == 10 else _day_of(datetime.fromisoformat(text))
    except ValueError:
        return ""


def business_day_of_run(dag_run: Any, params: dict | None = None) -> str:
    """The business day a run works on: the ``business_date`` parameter, else its
    partition key, else its data interval's (or logical date's) day in Shanghai."""
    conf = _get(dag_run, "conf") or {}
    for candidate in ((params or {}).get("business_date"), conf.get("business_date"), _get(dag_run, "partition_key")):
        if day := _day_of(candidate):
            return day
    return _day_of(_get(dag_run, "data_interval_start") or _get(dag_run, "logical_date"))


def one_line(error: Any) -> str:
    if error is None:
        return ""
    if isinstance(error, BaseException):
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    else:
        text = " ".join(str(error).split())
    return text if len(text) <= 500 else text[:499] + "…"


def alert_record(kind: str, context: dict) -> dict[str, str]:
    """The fields of one alert, from a task's failure context or a deadline's."""
    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    deadline = context.get("deadline") or {}
    record = {
        "alert": kind,
        "dag": str(_get(ti, "dag_id") or _get(dag_run, "dag_id") or ""),
        "task": str(_get(ti, "task_id") or ""),
        "run": str(_get(ti, "run_id") or _get(dag_run, "run_id") or _get(dag_run, "dag_run_id") or ""),
        "business_date": business_day_of_run(dag_run, context.get("params")),
        "cause": one_line(context.get("exception") or context.get("reason")),
    }
    if deadline:
        when = _get(deadline, "deadline_time")
        record["deadline"] = when.isoformat() if isinstance(when, datetime) else str(when or "")
        record["cause"] = record["cause"] or f"not finished by {record['deadline']}"
    return record


# --------------------------------------------------------------------------- #
# The notifier
# --------------------------------------------------------------------------- #


class ClaimsAlertNotifier(BaseNotifier):
    """One JSON log line per alert, always; an e-mail through the smtp provider's
    ``SmtpNotifier`` when ``CLAIMS_ALERT_EMAIL`` is set. A failure to send the
    e-mail is logged and does not hide the alert (its line is already written)."""

    def __init__(self, kind: str = "task_failed", context: dict | None = None) -> None:
        super().__init__(context=context)
        self.kind = kind

    def _log(self, context: dict) -> dict[str, str]:
        record = alert_record(self.kind, context)
        logging.getLogger(ALERT_LOGGER).error("%s", json.dumps(record, ensure_ascii=False, sort_keys=True))
        return record

    def notify(self, context: dict) -> None:  # type: ignore[override]
        record = self._log(context)
        if (mail := _smtp_notifier(record)) is not None:
            try:
                mail.notify(context)
            except Exception as error:  # noqa: BLE001 - the alert is already in the log
                logging.getLogger(ALERT_LOGGER).error("alert e-mail not sent: %s", one_line(error))

    async def async_notify(self, context: dict) -> None:  # type: ignore[override]
        record = self._log(context)
        if (mail := _smtp_notifier(record)) is not None:
            try:
                await mail.async_notify(context)
            except Exception as error:  # noqa: BLE001 - the alert is already in the log
                logging.getLogger(ALERT_LOGGER).error("alert e-mail not sent: %s", one_line(error))


def _alert_setting(name: str) -> str | None:
    from claims.settings import setting

    return setting(name)


def _smtp_notifier(record: dict[str, str]) -> Any | None:
    """Airflow's SmtpNotifier for this alert, or None when no recipient is configured."""
    recipients = _alert_setting("CLAIMS_ALERT_EMAIL")
    if not recipients:
        return None
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    # Both are template fields: braces are escaped so that a message quoting "{{" is not rendered.
    def literal(text: str) -> str:
        return text.replace("{", "&#123;").replace("}", "&#125;")

    where = " ".join(part for part in (record["dag"], record["task"]) if part)
    subject = f"[claims] {record['alert']}: {where} business day {record['business_date']}"
    rows = "".join(f"<tr><th>{key}</th><td>{html.escape(value)}</td></tr>" for key, value in record.items())
    return SmtpNotifier(
        to=[address.strip() for address in recipients.split(",") if address.strip()],
        subject=literal(subject).replace("&#123;", "(").replace("&#125;", ")"),
        html_content=literal(f"<table>{rows}</table>"),
        smtp_conn_id=_alert_setting("CLAIMS_ALERT_SMTP_CONN_ID") or "smtp_default",
    )


#: The tasks' failure callbacks (``default_args["on_failure_callback"]``).
FAILURE_NOTIFIERS = [ClaimsAlertNotifier("task_failed")]


# --------------------------------------------------------------------------- #
# Deadline alerts
# --------------------------------------------------------------------------- #


def _scheduler_setting(name: str, default: str, session: Any = None) -> str:
    """A setting as the scheduler sees it when it creates a run: its environment,
    else the Airflow variable of the lower-case name from the configured secrets
    backends (environment ``AIRFLOW_VAR_*``, a secrets backend, the metadata
    database, read on the scheduler's own session: ``Variable.get`` would close
    that thread's session under the run being created), else the default."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    try:
        from airflow.configuration import ensure_secrets_loaded
        from airflow.secrets.metastore import MetastoreBackend

        backends = ensure_secrets_loaded()
    except Exception:  # noqa: BLE001 - outside Airflow's server: the default holds
        return default
    for backend in backends:
        try:
            if isinstance(backend, MetastoreBackend):
                if session is None:
                    continue
                stored = backend.get_variable(name.lower(), session=session)
            else:
                stored = backend.get_variable(name.lower())
        except Exception:  # noqa: BLE001 - as Airflow does: try the next backend
            continue
        if stored not in (None, ""):
            return str(stored).strip()
    return default


def time_after(day: date, when: str) -> datetime:
    """The first moment at ``when`` after business day ``day`` ends (Asia/Shanghai):
    ``HH:MM`` on the next day, or the first tick of a cron at or after its midnight."""
    midnight = datetime.combine(day + timedelta(days=1), time(0, 0), SHANGHAI)
    if ":" in when and " " not in when.strip():
        hours, minutes = (int(part) for part in when.strip().split(":", 1))
        return midnight + timedelta(hours=hours, minutes=minutes)
    from croniter import croniter

    return croniter(when, midnight - timedelta(seconds=1)).get_next(datetime)


@dataclass
class BusinessDayDeadline(BaseDeadlineReference):
    """A deadline on the business day of the run: the next calendar day at the time
    of day (``HH:MM``) or first cron tick the setting ``time_setting`` names, plus
    ``margin_setting`` minutes. Evaluated by the scheduler when it creates the run."""

    time_setting: str = "CLAIMS_INGEST_DEADLINE"
    time_default: str = "07:00"
    margin_setting: str = ""
    margin_default_minutes: int = 0

    required_kwargs = {"dag_id", "run_id"}

    def serialize_reference(self) -> dict[str, Any]:
        return {
            "reference_type": self.reference_name,
            "time_setting": self.time_setting,
            "time_default": self.time_default,
            "margin_setting": self.margin_setting,
            "margin_default_minutes": self.margin_default_minutes,
        }

    @classmethod
    def deserialize_reference(cls, reference_data: dict[str, Any]) -> BusinessDayDeadline:
        return cls(
            time_setting=reference_data["time_setting"],
            time_default=reference_data["time_default"],
            margin_setting=reference_data.get("margin_setting", ""),
            margin_default_minutes=int(reference_data.get("margin_default_minutes", 0)),
        )

    def deadline_for(self, day: date, session: Any = None) -> datetime:
        at = time_after(day, _scheduler_setting(self.time_setting, self.time_default, session))
        margin = self.margin_default_minutes
        if self.margin_setting:
            margin = int(_scheduler_setting(self.margin_setting, str(self.margin_default_minutes), session))
        return at + timedelta(minutes=margin)

    def _evaluate_with(self, *, session: Any, **kwargs: Any) -> datetime | None:
        from airflow.models import DagRun
        from sqlalchemy import select

        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == kwargs["dag_id"], DagRun.run_id == kwargs["run_id"])
        ).one_or_none()
        day = business_day_of_run(run) if run is not None else ""
        if not day:
            logging.getLogger(ALERT_LOGGER).warning(
                "no business day for run %s of %s: no deadline", kwargs["run_id"], kwargs["dag_id"])
            return None
        deadline = self.deadline_for(date.fromisoformat(day), session).astimezone(ZoneInfo("UTC"))
        if not deadline_applies(str(getattr(run.run_type, "value", run.run_type)), deadline, datetime.now(ZoneInfo("UTC"))):
            return None
        return deadline


def deadline_applies(run_type: str, deadline: datetime, now: datetime) -> bool:
    """Scheduled and asset-triggered runs always get their deadline (one created
    after it, say after a scheduler outage, is late at once). A backfill never does,
    nor a manual run made after the deadline had passed: re-running an old day on
    purpose is not a late day (``claims run-day`` of a past day included)."""
    if run_type == "backfill":
        return False
    return not (run_type == "manual" and deadline <= now)


def payouts_deadline() -> DeadlineAlert:
    """Payouts of day D not finished by D+1 at the cut-off plus the margin."""
    return DeadlineAlert(
        reference=BusinessDayDeadline("CLAIMS_PAYOUT_CUTOFF", "0 3 * * *", "CLAIMS_PAYOUTS_DEADLINE_MARGIN_MINUTES", 60),
        interval=timedelta(0),
        callback=AsyncCallback(ClaimsAlertNotifier, kwargs={"kind": "payouts_late"}),
        name="payouts finished by the cut-off plus the margin",
    )


def ingestion_deadline() -> DeadlineAlert:
    """Ingestion of day D not complete by D+1 at ``CLAIMS_INGEST_DEADLINE``."""
    return DeadlineAlert(
        reference=BusinessDayDeadline("CLAIMS_INGEST_DEADLINE", "07:00"),
        interval=timedelta(0),
        callback=AsyncCallback(ClaimsAlertNotifier, kwargs={"kind": "ingestion_late"}),
        name="ingestion complete by the configured hour",
    )
