"""A run's note: its business day and, for an ingestion run, what arrived and what
did not. Written where the metadata database is reachable (a task cannot write
its own run's note in Airflow 3): by ``claims run-day`` after each run, and by the
scheduler through the listener in ``dags/_listener.py`` when a run ends."""

from __future__ import annotations

from typing import Any

CLAIMS_DAG_IDS = frozenset({
    "ingest_orders", "ingest_claims", "ingest_determinations", "ingest_bank_returns", "ingest_declarations",
    "adjudicate", "payouts", "reports",
})
ARRIVALS_TASK = "check_arrivals"
ARRIVALS_XCOM = "arrivals"
#: dag_run_note.content is 1,000 characters.
NOTE_LIMIT = 1000


def arrivals_of(dag_run, session) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """What ``check_arrivals`` found in this run (its XCom), or None."""
    from airflow.models.xcom import XComModel

    row = session.scalars(XComModel.get_many(
        run_id=dag_run.run_id, key=ARRIVALS_XCOM, task_ids=ARRIVALS_TASK, dag_ids=dag_run.dag_id, limit=1,
    )).first()
    if row is None:
        return None
    value = XComModel.deserialize_value(row)
    return value if isinstance(value, dict) else None


def note_text(business_date: str | None, arrivals: dict[str, Any] | None, made_by: str = "") -> str:
    lines = [f"Business day {business_date}" + (f" ({made_by})" if made_by else "") if business_date
             else "Business day unknown"]
    if arrivals is not None:
        expected = arrivals.get("expected_missing") or []
        optional = [p for p in arrivals.get("not_arrived") or [] if p not in expected]
        if expected:
            lines.append(f"NOT ARRIVED, expected ({len(expected)}): " + ", ".join(expected))
        else:
            lines.append("Every expected partition arrived.")
        if optional:
            lines.append(f"Not arrived, optional ({len(optional)}): " + ", ".join(optional))
    text = "\n".join(lines)
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


def business_date_of(dag_run) -> str | None:  # type: ignore[no-untyped-def]
    conf = dag_run.conf or {}
    return conf.get("business_date") or dag_run.partition_key


def write_note(dag_run, session, made_by: str = "") -> str:  # type: ignore[no-untyped-def]
    """Set the run's note (kept when an administrator already wrote one)."""
    if dag_run.note and not str(dag_run.note).startswith("Business day"):
        return str(dag_run.note)
    text = note_text(business_date_of(dag_run), arrivals_of(dag_run, session), made_by)
    dag_run.note = text
    return text
