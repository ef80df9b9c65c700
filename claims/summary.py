"""The one-screen summary of a business day's run, read from the ledger."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from claims.ledger.models import Decision, LandingDelivery, LandingFile, PayoutException, Rejection
from claims.store import Store


def day_summary(engine: Engine | None, day: date, not_arrived: list[str], dag_lines: list[str],
                warnings: Sequence[str] = ()) -> str:
    """The summary; what the ledger cannot tell (unreachable, dropped) is said in one
    line instead of its tables."""
    lines = [f"claims run-day {day.isoformat()}", ""]
    lines.extend(dag_lines)
    if warnings:
        lines.append("")
        lines.append(f"WARNINGS ({len(warnings)}):")
        lines.extend(f"  {warning}" for warning in warnings)
    try:
        if engine is None:
            raise ConnectionError("it could not be reached (above)")
        lines.extend(_ledger_lines(engine, day))
    except Exception as error:  # noqa: BLE001 - the summary is printed whatever the ledger's state
        cause = " ".join(str(error).split("\n")[0].split())[:200]
        lines.append("")
        lines.append(f"(the ledger could not be read for this summary: {type(error).__name__}: {cause})")
    if not_arrived:
        lines.append("")
        lines.append(f"partitions not arrived ({len(not_arrived)}):")
        shown = not_arrived[:12]
        lines.extend(f"  {prefix}" for prefix in shown)
        if len(not_arrived) > len(shown):
            lines.append(f"  ... and {len(not_arrived) - len(shown)} more")
    return "\n".join(lines)


def _ledger_lines(engine: Engine, day: date) -> list[str]:
    lines: list[str] = []
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
    with Session(engine) as session:
        held = session.execute(
            select(PayoutException.reason_code, func.count(), func.sum(PayoutException.amount_fen))
            .where(PayoutException.business_day == day).group_by(PayoutException.reason_code)
            .order_by(PayoutException.reason_code)).all()
    if held:
        lines.append("")
        lines.append(f"PAYOUT EXCEPTIONS: {sum(count for _code, count, _fen in held):,} owed item(s) held out of "
                     f"the day's files (reports/date={day.isoformat()}/payout_holds.csv); everything else was paid:")
        lines.extend(f"  {code:<28}{count:>8,} items{int(fen):>16,} fen" for code, count, fen in held)
    return lines


def deliveries_of(engine: Engine, day: date) -> int:
    """How many landing objects runs of ``day`` have read so far."""
    with Session(engine) as session:
        return int(session.scalar(
            select(func.count()).select_from(LandingDelivery).where(LandingDelivery.business_day == day)
        ) or 0)


class PublishedFiles:
    """The day's published payout files (every batch's CSV and XML, the manifest
    once released) as the ledger records them, looked for in the outbox before the
    run and again after it: a published file that went missing is something to
    find out about, even when the run renders it again byte for byte."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.missing: list[str] = []

    def recorded(self, engine: Engine) -> dict[str, str]:
        """Key -> sha256 of every file the ledger says was published for the day."""
        from claims.ledger.models import PayoutBatch, PayoutRelease
        from claims.payouts.pipeline import batch_key

        with Session(engine) as session:
            files = {}
            for batch in session.execute(select(PayoutBatch).where(PayoutBatch.business_day == self.day)).scalars():
                files[batch_key(batch, "csv")] = batch.csv_sha256
                files[batch_key(batch, "xml")] = batch.xml_sha256
            release = session.get(PayoutRelease, self.day)
            if release is not None:
                files[f"payouts/date={self.day.isoformat()}/manifest.json"] = release.manifest_sha256
        return files

    def look(self, engine: Engine, outbox: Store) -> None:
        self.missing = sorted(key for key in self.recorded(engine) if not outbox.exists(key))

    def warnings(self, engine: Engine, outbox: Store) -> list[str]:
        """One line per published file that was missing before the run."""
        if not self.missing:
            return []
        try:
            recorded = self.recorded(engine)
        except Exception:  # noqa: BLE001 - the ledger went away: say what was missing all the same
            recorded = {}
        lines = []
        for key in self.missing:
            if not outbox.exists(key):
                lines.append(f"published file missing, not rewritten: {key}")
            elif recorded.get(key) == hashlib.sha256(outbox.read_bytes(key)).hexdigest():
                lines.append(f"published file was missing, rewritten byte-identical to its record: {key}")
            else:
                lines.append(f"published file was missing, rewritten, but differs from its record: {key}")
        return lines
