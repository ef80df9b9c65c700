"""The one-screen summary of a business day's run, read from the ledger."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from claims.ledger.models import Decision, LandingDelivery, LandingFile, Rejection


def day_summary(engine: Engine, day: date, not_arrived: list[str], dag_lines: list[str]) -> str:
    with Session(engine) as session:
        rows = session.execute(
            select(LandingFile.source, LandingDelivery.outcome, LandingFile.status,
                   LandingFile.rows_in, LandingFile.rows_loaded, LandingFile.rows_unchanged,
                   LandingFile.rows_rejected)
            .join(LandingFile, LandingFile.id == LandingDelivery.file_id)
            .where(LandingDelivery.business_day == day)
        ).all()
        reason_counts: Counter = Counter()
        for (code,) in session.execute(select(Rejection.reason_code).where(Rejection.business_day == day)):
            reason_counts[code] += 1
    lines = [f"claims run-day {day.isoformat()}", ""]
    lines.extend(dag_lines)
    lines.append("")
    lines.append(f"{'source':<14}{'files':>7}{'rows in':>12}{'loaded':>12}{'unchanged':>11}{'rejected':>11}")
    by_source: dict[str, list[int]] = {}
    for source, outcome, _status, rows_in, loaded, unchanged, rejected in rows:
        totals = by_source.setdefault(source, [0, 0, 0, 0, 0])
        duplicate = outcome == "duplicate_file"
        totals[0] += 1
        totals[1] += rows_in
        totals[2] += 0 if duplicate else loaded
        totals[3] += 0 if duplicate else unchanged
        totals[4] += rows_in if duplicate else rejected
    for source in sorted(by_source):
        files, rows_in, loaded, unchanged, rejected = by_source[source]
        lines.append(f"{source:<14}{files:>7}{rows_in:>12,}{loaded:>12,}{unchanged:>11,}{rejected:>11,}")
    if not by_source:
        lines.append("(no new files read by this run)")
    if reason_counts:
        lines.append("")
        lines.append("rejection lines by reason code:")
        for code, count in sorted(reason_counts.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"  {code:<24}{count:>10,}")
    with Session(engine) as session:
        outcomes = session.execute(
            select(Decision.outcome, func.count()).where(Decision.business_day == day).group_by(Decision.outcome)
        ).all()
        estimated = session.scalar(
            select(func.count()).select_from(Decision)
            .where(Decision.business_day == day, Decision.calendar_estimated.is_(True))
        )
    if outcomes:
        lines.append("")
        tally = ", ".join(f"{outcome} {count:,}" for outcome, count in sorted(outcomes))
        lines.append(f"decisions: {tally}")
        if estimated:
            lines.append(f"  {estimated:,} deadline(s) estimated on weekdays (CALENDAR_ESTIMATED): "
                         "add that year's official schedule file")
    if not_arrived:
        lines.append("")
        lines.append(f"partitions not arrived ({len(not_arrived)}):")
        shown = not_arrived[:12]
        lines.extend(f"  {prefix}" for prefix in shown)
        if len(not_arrived) > len(shown):
            lines.append(f"  ... and {len(not_arrived) - len(shown)} more")
    return "\n".join(lines)


def deliveries_of(engine: Engine, day: date) -> int:
    """How many landing objects runs of ``day`` have read so far."""
    with Session(engine) as session:
        return int(session.scalar(
            select(func.count()).select_from(LandingDelivery).where(LandingDelivery.business_day == day)
        ) or 0)
