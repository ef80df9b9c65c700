"""Running totals of the payouts, per business day: what a day's reports read
instead of every decision, item, bank answer and posting ever made.

Each business day is *closed* once into ``report_payout_day`` (per paying province
and platform: the approvals, items and bank answers of the day, as the records
call for them, and the postings of the day's ledger transactions, by account) and
``report_answered_day`` (the day's answers by the day of the items they answer).
A day's figures come from the rows stamped with that day only, so a cumulative
figure as of D is the sum of the days up to D, and a later day never changes an
earlier day's figures.

The totals are a cache of the detail, never a second source: the records side
and the ledger side of a day are computed by separate queries over separate
tables (a difference between them is a finding, as before), a day is closed
again when the counts of its detail changed (``fingerprint``: a re-run of that
day), and ``stale_days`` recomputes every closed day from the detail in SQL and
names those whose stored totals differ (run by the report when a province does
not tie, and by the tests).

``finance_summary.csv`` and ``bank_returns.csv`` of D are rendered from the same
day queries (``day_figures``, ``day_answers``): nothing is computed twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Date, Row, bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session

from claims.ledger.models import (
    BankReturn,
    BankReturnResult,
    Decision,
    LedgerTransaction,
    PayoutItem,
    PayoutRelease,
    ReportAnsweredDay,
    ReportDayClose,
    ReportPayoutDay,
    ReportStateMark,
)
from claims.reports.claim_state import as_date

#: Days before D whose closing a report checks against the detail's counts (a
#: re-run of a recent day) ...
RECHECK_DAYS = 6
#: ... and, of the older days, those a multiple of a rotation period before D: at
#: least this many days, and long enough that a report checks at most
#: ROTATION_CHECKS of them, so the cost of a day's report does not grow with the
#: history; every closed day is checked once a period (``stale_days`` checks them
#: all, when a province does not tie).
ROTATION_DAYS = 28
ROTATION_CHECKS = 2

FIGURES = ("approved_fen", "items", "items_fen", "repaid_items", "settled_items", "settled_fen", "returned_items",
           "returned_fen", "ledger_payable_fen", "ledger_in_transit_fen", "ledger_bank_fen")
_LEDGER_ACCOUNTS = {"benefits_payable": "ledger_payable_fen", "in_transit": "ledger_in_transit_fen",
                    "bank": "ledger_bank_fen"}

#: The paying province of a decision's claim version (as the ledger posts it):
#: the order's, the incident's while the order is unknown.
_APPROVED = """
SELECT province_code, platform_code, SUM(new_fen - previous_fen)
FROM (
  SELECT COALESCE(NULLIF(o.province_code, ''), v.incident_province_code) AS province_code, d.platform_code,
         COALESCE(d.payable_fen, 0) AS new_fen,
         COALESCE((
             SELECT COALESCE(p.payable_fen, 0) FROM decision p
             WHERE p.platform_code = d.platform_code AND p.claim_id = d.claim_id
               AND (p.payable_fen IS NOT NULL OR p.outcome = 'rejected') AND p.id < d.id
             ORDER BY p.id DESC LIMIT 1), 0) AS previous_fen
  FROM decision d
  JOIN claim_version v ON v.id = d.claim_version_id
  LEFT JOIN claim_order o ON o.platform_code = v.platform_code AND o.order_id = v.order_id
  WHERE d.business_day = :day AND (d.payable_fen IS NOT NULL OR d.outcome = 'rejected')
) a
GROUP BY province_code, platform_code
"""

_ANSWERED = """
SELECT i.province_code, i.platform_code, i.business_day, r.result_code, COUNT(*), SUM(i.amount_fen)
FROM bank_return_result r
JOIN bank_return b ON b.id = r.bank_return_id
JOIN payout_item i ON i.end_to_end_id = b.end_to_end_id
WHERE r.business_day = :day AND r.result_code IN ('RETURN_SETTLED', 'RETURN_FAILED_REVERSED')
GROUP BY i.province_code, i.platform_code, i.business_day, r.result_code
"""

_REPAID = """
SELECT i.province_code, i.platform_code, COUNT(*)
FROM payout_item i
WHERE i.business_day = :day AND EXISTS (
    SELECT 1 FROM payout_item r
    WHERE r.platform_code = i.platform_code AND r.claim_id = i.claim_id AND r.instalment = i.instalment
      AND r.returned_on IS NOT NULL AND r.business_day < :day)
GROUP BY i.province_code, i.platform_code
"""

#: ... with the postings' count and debits, the fingerprint's ledger part (one pass)
_POSTED = """
SELECT t.platform_code, p.account, SUM(p.amount_fen), COUNT(*),
       SUM(CASE WHEN p.amount_fen > 0 THEN p.amount_fen ELSE 0 END)
FROM ledger_transaction t
JOIN ledger_posting p ON p.transaction_id = t.id
WHERE t.business_day = :day
GROUP BY t.platform_code, p.account
"""

#: A day's fingerprint: how many decisions, items, bank answers' results and ledger
#: transactions are stamped with the day (each read from its day index alone) ...
_COUNTS = """
SELECT
  (SELECT COUNT(*) FROM decision WHERE business_day = :day),
  (SELECT COUNT(*) FROM payout_item WHERE business_day = :day),
  (SELECT COUNT(*) FROM bank_return_result WHERE business_day = :day),
  (SELECT COUNT(*) FROM ledger_transaction WHERE business_day = :day)
"""
#: ... and how many postings those transactions have, with their debits' sum.
_POSTINGS = """
SELECT COUNT(*), COALESCE(SUM(CASE WHEN p.amount_fen > 0 THEN p.amount_fen ELSE 0 END), 0)
FROM ledger_transaction t JOIN ledger_posting p ON p.transaction_id = t.id
WHERE t.business_day = :day
"""


def _run(session: Session, sql: str, day: date) -> list[Row]:
    return list(session.execute(text(sql).bindparams(bindparam("day", day, type_=Date))))


@dataclass
class DayFigures:
    """One business day's payout figures, by (province, platform), and the day's
    answered money by (item day, province)."""

    day: date
    groups: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    answered: dict[tuple[date, str], int] = field(default_factory=dict)
    #: the postings of the day's ledger transactions: how many, and their debits' sum
    postings: int = 0
    debited_fen: int = 0

    def group(self, province: str, platform: str) -> dict[str, int]:
        return self.groups.setdefault((province, platform), dict.fromkeys(FIGURES, 0))


def day_figures(session: Session, day: date) -> DayFigures:
    """The day's figures from the detail stamped with the day (the records' side
    and the ledger's side by separate queries)."""
    figures = DayFigures(day)
    for province, platform, change in _run(session, _APPROVED, day):
        figures.group(province, platform)["approved_fen"] += int(change or 0)
    for province, platform, count, total in session.execute(
            select(PayoutItem.province_code, PayoutItem.platform_code, func.count(), func.sum(PayoutItem.amount_fen))
            .where(PayoutItem.business_day == day).group_by(PayoutItem.province_code, PayoutItem.platform_code)):
        group = figures.group(province, platform)
        group["items"] += int(count)
        group["items_fen"] += int(total)
    for province, platform, count in _run(session, _REPAID, day):
        figures.group(province, platform)["repaid_items"] += int(count)
    for province, platform, item_day, code, count, total in _run(session, _ANSWERED, day):
        kind = "settled" if code == "RETURN_SETTLED" else "returned"
        group = figures.group(province, platform)
        group[f"{kind}_items"] += int(count)
        group[f"{kind}_fen"] += int(total)
        item_day = item_day if isinstance(item_day, date) else date.fromisoformat(str(item_day))
        figures.answered[(item_day, province)] = figures.answered.get((item_day, province), 0) + int(total)
    for platform, account, total, count, debited in _run(session, _POSTED, day):
        figures.postings += int(count)
        figures.debited_fen += int(debited or 0)
        prefix, _, province = str(account).partition(":")
        column = _LEDGER_ACCOUNTS.get(prefix)
        if column is not None and (total or (province, platform) in figures.groups):
            figures.group(province, platform)[column] += int(total)
    return figures


def _counts(session: Session, day: date) -> list[str]:
    return [str(int(value)) for value in _run(session, _COUNTS, day)[0]]


def fingerprint(session: Session, day: date) -> str:
    """What the day's detail counts: a closed day whose count changed is closed again."""
    return ":".join([*_counts(session, day), *(str(int(value)) for value in _run(session, _POSTINGS, day)[0])])


def _close(session: Session, day: date) -> None:
    """Store the day's figures, with its fingerprint (its postings' part from the
    same pass over the day's postings as the figures)."""
    figures = day_figures(session, day)
    print_ = ":".join([*_counts(session, day), str(figures.postings), str(figures.debited_fen)])
    for model in (ReportPayoutDay, ReportAnsweredDay, ReportDayClose):
        session.execute(delete(model).where(model.business_day == day))
    if figures.groups:
        session.execute(insert(ReportPayoutDay), [
            dict(values, business_day=day, province_code=province, platform_code=platform)
            for (province, platform), values in sorted(figures.groups.items())])
    if figures.answered:
        session.execute(insert(ReportAnsweredDay), [
            {"business_day": day, "item_day": item_day, "province_code": province, "answered_fen": fen}
            for (item_day, province), fen in sorted(figures.answered.items())])
    session.execute(insert(ReportDayClose), [{"business_day": day, "fingerprint": print_}])


def _first_day(session: Session) -> date | None:
    firsts = [session.scalar(select(func.min(column))) for column in (
        Decision.business_day, PayoutItem.business_day, BankReturnResult.business_day, LedgerTransaction.business_day)]
    found = [first for first in firsts if first is not None]
    return min(found) if found else None


#: The tables a day's figures are computed from, by an id that grows as rows are
#: added: a row added to a closed day (a re-run of that day) closes it again.
_ADDED = {"decision": "id", "payout_item": "id", "bank_return_result": "bank_return_id", "ledger_transaction": "id"}
_MARK = "totals:"
_PENDING = "totals-pending:"


def _days_added(session: Session) -> set[date]:
    """The business days of the rows added since the last report (and those added
    to days after the last report's day, kept pending); the marks move on."""
    marks = {mark.source: mark for mark in session.execute(
        select(ReportStateMark).where(ReportStateMark.source.startswith("totals"))).scalars()}
    days = {date.fromisoformat(source[len(_PENDING):]) for source in marks if source.startswith(_PENDING)}
    for table, column in _ADDED.items():
        high = int(session.execute(text(f"SELECT COALESCE(MAX({column}), 0) FROM {table}")).scalar_one())
        mark = marks.get(_MARK + table)
        if mark is None:  # the first report since these marks: the closed days were checked as before
            session.add(ReportStateMark(source=_MARK + table, last_id=high))
        elif high > mark.last_id:
            days |= {as_date(added) for (added,) in session.execute(
                text(f"SELECT DISTINCT business_day FROM {table} WHERE {column} > :low AND {column} <= :high"),
                {"low": mark.last_id, "high": high})}
            mark.last_id = high
    return days


def _keep_pending(session: Session, days: set[date]) -> None:
    session.execute(delete(ReportStateMark).where(ReportStateMark.source.startswith(_PENDING)))
    session.add_all([ReportStateMark(source=f"{_PENDING}{pending.isoformat()}", last_id=0)
                     for pending in sorted(days)])


def close_through(session: Session, day: date) -> list[date]:
    """Close every business day up to ``day`` not closed yet (the first report after
    the upgrade closes the whole history once), and close again the days checked
    (``day``, the RECHECK_DAYS before it, every ``rotation_period``-th day before
    that, and every day that rows were added to since the last report: a re-run of
    an old day) when their detail's counts changed. Returns the days closed.

    ``day`` and the rotation's days are checked by their whole fingerprint; the
    other recent days by the counts of their records and ledger transactions only
    (read from the day indexes alone): a re-run of a day adds records and
    transactions, and the ledger's transactions and postings are never changed (an
    old posting changed in place is found by the rotation, or by ``stale_days``
    when a province does not tie)."""
    first = _first_day(session)
    if first is None or first > day:
        return []
    closed = {closed_day: print_ for closed_day, print_ in session.execute(
        select(ReportDayClose.business_day, ReportDayClose.fingerprint).where(ReportDayClose.business_day <= day))}
    done = []
    current = first
    recheck_from = day - timedelta(days=RECHECK_DAYS)
    period = rotation_period(first, recheck_from)
    added = _days_added(session)
    _keep_pending(session, {later for later in added if later > day})
    while current <= day:
        stored = closed.get(current)
        if stored is None:
            changed = True
        elif (day - current).days % period == 0 or current in added:
            changed = stored != fingerprint(session, current)
        elif current >= recheck_from:
            changed = stored.split(":")[:4] != _counts(session, current)
        else:
            changed = False
        if changed:
            _close(session, current)
            done.append(current)
        current += timedelta(days=1)
    return done


def rotation_period(first: date, recheck_from: date) -> int:
    """The rotation's period for a history of closed days from ``first``: ROTATION_DAYS,
    or longer when the days before ``recheck_from`` are more than ROTATION_CHECKS periods."""
    older = max(0, (recheck_from - first).days)
    return max(ROTATION_DAYS, -(-older // ROTATION_CHECKS))


def stale_days(session: Session, day: date) -> list[date]:
    """Every closed day up to ``day`` whose stored totals differ from its detail,
    recomputed in SQL (a pass over the history: run when a province does not tie)."""
    stored: dict[date, dict] = defaultdict(dict)
    for row in session.execute(select(ReportPayoutDay).where(ReportPayoutDay.business_day <= day)).scalars():
        values = {name: getattr(row, name) for name in FIGURES}
        stored[row.business_day][(row.province_code, row.platform_code)] = values
    answered: dict[date, dict] = defaultdict(dict)
    for answer in session.execute(select(ReportAnsweredDay).where(ReportAnsweredDay.business_day <= day)).scalars():
        answered[answer.business_day][(answer.item_day, answer.province_code)] = answer.answered_fen
    stale = []
    for (closed_day,) in session.execute(select(ReportDayClose.business_day).where(ReportDayClose.business_day <= day)
                                         .order_by(ReportDayClose.business_day)):
        figures = day_figures(session, closed_day)
        if figures.groups != stored.get(closed_day, {}) or figures.answered != answered.get(closed_day, {}):
            stale.append(closed_day)
    return stale


def reclose(session: Session, days: list[date]) -> None:
    for day in days:
        _close(session, day)


@dataclass
class Cumulative:
    """Per paying province, the figures as of D (sums of the closed days up to D)."""

    approved: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    paid: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    awaiting_release: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    returned: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    settled: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ledger: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    provinces: set[str] = field(default_factory=set)
    #: (item day, province) -> released fen not yet answered as of D
    in_transit_by_day: dict[tuple[date, str], int] = field(default_factory=dict)


def cumulative(session: Session, day: date) -> Cumulative:
    released = {d for (d,) in session.execute(select(PayoutRelease.business_day)
                                               .where(PayoutRelease.business_day <= day))}
    totals = Cumulative()
    item_days: dict[tuple[date, str], int] = defaultdict(int)
    sums = [func.sum(getattr(ReportPayoutDay, name)) for name in FIGURES]
    for business_day, province, *values in session.execute(
            select(ReportPayoutDay.business_day, ReportPayoutDay.province_code, *sums)
            .where(ReportPayoutDay.business_day <= day)
            .group_by(ReportPayoutDay.business_day, ReportPayoutDay.province_code)):
        figures = dict(zip(FIGURES, (int(value or 0) for value in values), strict=True))
        totals.provinces.add(province)
        totals.approved[province] += figures["approved_fen"]
        if business_day in released:
            totals.paid[province] += figures["items_fen"]
            if figures["items_fen"]:
                item_days[(business_day, province)] += figures["items_fen"]
        else:
            totals.awaiting_release[province] += figures["items_fen"]
        totals.returned[province] += figures["returned_fen"]
        totals.settled[province] += figures["settled_fen"]
        for prefix, column in _LEDGER_ACCOUNTS.items():
            totals.ledger[province][prefix] += figures[column]
    for item_day, province, fen in session.execute(
            select(ReportAnsweredDay.item_day, ReportAnsweredDay.province_code, func.sum(ReportAnsweredDay.answered_fen))
            .where(ReportAnsweredDay.business_day <= day)
            .group_by(ReportAnsweredDay.item_day, ReportAnsweredDay.province_code)):
        item_days[(item_day, province)] -= int(fen)
    totals.in_transit_by_day = {key: fen for key, fen in item_days.items() if fen}
    return totals


def day_answers(session: Session, day: date) -> list[tuple[BankReturn, str]]:
    """The bank's answers the payout run of ``day`` applied, with what it made of each."""
    return [(answer, code) for answer, code in session.execute(
        select(BankReturn, BankReturnResult.result_code)
        .join(BankReturnResult, BankReturnResult.bank_return_id == BankReturn.id)
        .where(BankReturnResult.business_day == day).order_by(BankReturn.end_to_end_id, BankReturn.id))]


#: ``reports/date={D}/finance_summary.csv``: the day's payouts by paying province and platform.
SUMMARY_COLUMNS = ["province_code", "platform_code", "items", "amount_fen", "repaid_items", "returned_items",
                   "returned_fen", "settled_items", "settled_fen"]
#: ``reports/date={D}/bank_returns.csv``: what became of each bank answer the payout run of D applied.
BANK_RETURN_COLUMNS = ["end_to_end_id", "batch_id", "status", "failure_code", "result_code"]


def finance_files(session: Session, day: date) -> dict[str, bytes]:
    """``finance_summary.csv`` (the closed day's rows: the same figures the
    cumulative reconciliation sums) and ``bank_returns.csv`` of ``day``."""
    from claims.csvtext import csv_bytes, dict_csv_bytes

    summary = []
    for row in session.execute(select(ReportPayoutDay).where(ReportPayoutDay.business_day == day)
                               .order_by(ReportPayoutDay.province_code, ReportPayoutDay.platform_code)).scalars():
        if row.items or row.settled_items or row.returned_items:
            summary.append({"province_code": row.province_code, "platform_code": row.platform_code,
                            "items": row.items, "amount_fen": row.items_fen, "repaid_items": row.repaid_items,
                            "returned_items": row.returned_items, "returned_fen": row.returned_fen,
                            "settled_items": row.settled_items, "settled_fen": row.settled_fen})
    answers = [tuple(row) for row in session.execute(  # the columns, not the mapped answers: 100,000 a day
        select(BankReturn.end_to_end_id, BankReturn.batch_id, BankReturn.status, BankReturn.failure_code,
               BankReturnResult.result_code)
        .join(BankReturnResult, BankReturnResult.bank_return_id == BankReturn.id)
        .where(BankReturnResult.business_day == day).order_by(BankReturn.end_to_end_id, BankReturn.id))]
    return {"finance_summary.csv": dict_csv_bytes(SUMMARY_COLUMNS, summary),
            "bank_returns.csv": csv_bytes(BANK_RETURN_COLUMNS, answers)}
