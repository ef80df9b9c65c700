"""A run's note: its business day; for an ingestion run, what arrived and what
did not; for the later stages, what the run decided, paid or found (its main
task's return value); and which tasks failed. Written where the metadata database is reachable (a task cannot write
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


#: Each later stage's main task, whose return value the note sums up.
STAGE_TASKS = {"adjudicate": "adjudicate", "payouts": "pay", "reports": "report"}


def outcome_of(dag_run, session) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """The return value of the run's main task (STAGE_TASKS), or None."""
    from airflow.models.xcom import XComModel

    task = STAGE_TASKS.get(dag_run.dag_id)
    if task is None:
        return None
    row = session.scalars(XComModel.get_many(
        run_id=dag_run.run_id, key="return_value", task_ids=task, dag_ids=dag_run.dag_id, limit=1,
    )).first()
    value = XComModel.deserialize_value(row) if row is not None else None
    return value if isinstance(value, dict) else None


def _yuan(fen: object) -> str:
    fen = int(fen or 0)  # type: ignore[call-overload]
    return f"{'-' if fen < 0 else ''}{abs(fen) // 100:,}.{abs(fen) % 100:02d} yuan"


def outcome_lines(dag_id: str, outcome: dict[str, Any] | None) -> list[str]:
    """The stage's outcome in a line or two, for an administrator."""
    if not outcome:
        return []
    if dag_id == "adjudicate":
        decided = outcome.get("decided") or {}
        line = "Decided: " + (", ".join(f"{name} {count:,}" for name, count in sorted(decided.items())) or "nothing")
        determinations = outcome.get("determinations") or {}
        if determinations:
            line += "; determinations applied: " + ", ".join(
                f"{name} {count:,}" for name, count in sorted(determinations.items()))
        return [line]
    if dag_id == "payouts":
        items, batches = int(outcome.get("items") or 0), int(outcome.get("batches") or 0)
        line = f"Paid: {items:,} item(s), {_yuan(outcome.get('total_fen'))} in {batches:,} batch(es)"
        if items:
            line += ", released" if outcome.get("released") else ", AWAITING RELEASE (claims payouts approve)"
        held = int(outcome.get("held") or 0)
        return [line + (f"; HELD out of the files: {held:,} (payout_holds.csv)" if held else "")]
    if dag_id == "reports":
        if outcome.get("payouts_tie_out"):
            line = "Payouts tie out in every province"
        else:
            line = ("PAYOUTS DO NOT TIE OUT in " + ", ".join(outcome.get("differing_provinces") or [])
                    + " (payout_exceptions.csv)")
        differing = int(outcome.get("premium_lines_differing") or 0)
        return [line + (f"; premium lines differing: {differing:,}" if differing else "")]
    return []


def failed_tasks(dag_run, session) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(ti.task_id for ti in dag_run.get_task_instances(session=session)
                  if str(getattr(ti.state, "value", ti.state)) in ("failed", "upstream_failed"))


def note_text(business_date: str | None, arrivals: dict[str, Any] | None, made_by: str = "",
              outcome: list[str] | None = None, failed: list[str] | None = None) -> str:
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
    lines.extend(outcome or [])
    if failed:
        lines.append("FAILED: " + ", ".join(failed) + " (the task logs say why)")
    text = "\n".join(lines)
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


def business_date_of(dag_run) -> str | None:  # type: ignore[no-untyped-def]
    conf = dag_run.conf or {}
    return conf.get("business_date") or dag_run.partition_key


def write_note(dag_run, session, made_by: str = "") -> str:  # type: ignore[no-untyped-def]
    """Set the run's note (kept when an administrator already wrote one)."""
    if dag_run.note and not str(dag_run.note).startswith("Business day"):
        return str(dag_run.note)
    text = note_text(business_date_of(dag_run), arrivals_of(dag_run, session), made_by,
                     outcome_lines(dag_run.dag_id, outcome_of(dag_run, session)), failed_tasks(dag_run, session))
    dag_run.note = text
    return text
