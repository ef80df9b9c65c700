"""What the ledger held at the end of business day D, read once for every report.

Everything is read "as of D": rows stamped with a business day up to D (a later
run's rows never change an old day's reports, and a re-run of D reads the same
rows, so it renders the same bytes). Only pseudonyms, codes, dates and amounts
are read: no name, account or ID number ever reaches the reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.orm import Session, aliased

from claims.ledger.db import ordered_join
from claims.ledger.models import (
    AwaitingConfirmation,
    BankReturn,
    BankReturnResult,
    ClaimOrder,
    ClaimVersion,
    Decision,
    Declaration,
    LandingFile,
    LedgerPosting,
    LedgerTransaction,
    OrderStats,
    PayoutException,
    PayoutItem,
    PayoutRelease,
)
from claims.reports.claim_state import ClaimCells, as_date, cells_as_of
from claims.store import Store

ClaimKey = tuple[str, str]  # (platform_code, claim_id)


@dataclass(frozen=True)
class ClaimFacts:
    """A claim as of D: when it was first filed, who claims (a pseudonym), where it is insured."""

    platform_code: str
    claim_id: str
    filed_on: date  # partition date of the first version
    worker_ref: str
    province_code: str  # the insuring province: the order's, the incident's while the order is unknown


@dataclass(frozen=True)
class DecisionRow:
    id: int
    platform_code: str
    claim_id: str
    business_day: date
    outcome: str
    payable_fen: int | None
    pay_by: date | None
    province_code: str  # the paying province of the decision's claim version (as the ledger posts it)


@dataclass(frozen=True)
class ItemRow:
    end_to_end_id: str
    batch_id: str
    business_day: date
    platform_code: str
    claim_id: str
    instalment: int
    province_code: str
    amount_fen: int
    returned_on: date | None  # as of D (a return applied after D is not one yet)
    released: bool  # its day's files were released by D


@dataclass(frozen=True)
class BankAnswer:
    end_to_end_id: str
    batch_id: str
    status: str
    result_code: str
    business_day: date  # the run that applied it


@dataclass(frozen=True, order=True)
class OrderGroup:
    accepted_date: date
    platform_code: str
    province_code: str
    industry: str
    orders: int
    cancelled: int
    premium_fen: int
    expected_premium_fen: int
    mismatched: int


@dataclass(frozen=True)
class DeclarationRow:
    month: str
    platform_code: str
    province_code: str
    industry: str
    orders: int
    premium_fen: int


@dataclass
class Snapshot:
    day: date
    orders: list[OrderGroup] = field(default_factory=list)
    declarations: list[DeclarationRow] = field(default_factory=list)  # the last version of each, as of D
    claims: dict[ClaimKey, ClaimFacts] = field(default_factory=dict)
    decisions: list[DecisionRow] = field(default_factory=list)  # in the order they were made (id)
    items: list[ItemRow] = field(default_factory=list)
    answers: list[BankAnswer] = field(default_factory=list)
    #: ledger transactions as of D: (kind, reference) -> (platform, claim, {account: debit fen})
    transactions: dict[tuple[str, str], tuple[str, str, dict[str, int]]] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    #: claims awaiting the HRSS office's confirmation on D, with the deadline
    awaiting: dict[ClaimKey, date] = field(default_factory=dict)
    #: (province, platform, accepted date) -> the pseudonyms of the workers with an order
    workers: dict[tuple[str, str, date], set[str]] = field(default_factory=dict)
    #: owed items the payout run of D held out of its files: (platform, claim, province or "",
    #: amount, PAYOUT_* code, the first day it was held for that reason)
    holds: list[tuple[str, str, str, int, str, date]] = field(default_factory=list)
    #: derived indexes the reports build once (see claims.reports.province.dated_facts)
    indexes: dict[int, tuple] = field(default_factory=dict)
    #: the claims side of the province report, as of D (claims.reports.claim_state)
    cells: ClaimCells | None = None

    def latest_decisions(self) -> dict[ClaimKey, DecisionRow]:
        latest: dict[ClaimKey, DecisionRow] = {}
        for decision in self.decisions:
            latest[(decision.platform_code, decision.claim_id)] = decision
        return latest

    def latest_payable(self) -> dict[ClaimKey, DecisionRow]:
        """Each claim's last decision that sets its approved total (as the ledger
        posts approvals): a payable decision, to its amount, or a rejection, to 0."""
        latest: dict[ClaimKey, DecisionRow] = {}
        for decision in self.decisions:
            if sets_approval(decision):
                latest[(decision.platform_code, decision.claim_id)] = decision
        return latest

    def items_by_claim(self) -> dict[ClaimKey, list[ItemRow]]:
        grouped: dict[ClaimKey, list[ItemRow]] = defaultdict(list)
        for item in self.items:
            grouped[(item.platform_code, item.claim_id)].append(item)
        return grouped


def sets_approval(decision: DecisionRow) -> bool:
    """A payable decision sets the claim's approved total to its amount; a
    rejection sets it to 0 (it withdraws an earlier approval)."""
    return decision.payable_fen is not None or decision.outcome == "rejected"


def _province(order_province: object, incident_province: str) -> str:
    return str(order_province) if order_province else incident_province


def load_snapshot(engine: Engine, day: date, lake: Store | None, window_start: date, *,
                  history: bool = False) -> Snapshot:
    """The ledger as of ``day``; orders and workers from ``window_start`` on (the
    reports' longest period), and the cells of the claims filed, first paid and paid
    from ``window_start`` on (what the province report reads; the claims' states are
    refreshed first). ``history``: every claim, decision, item, bank answer and
    ledger transaction up to ``day`` (the payout reconciliation's full pass, when the
    running totals do not tie), without the cells."""
    snapshot = Snapshot(day)
    if not history:
        snapshot.cells = cells_as_of(engine, day, window_start)
    with Session(engine) as session:
        _load_orders(session, snapshot, window_start)
        if history:
            _load_claims(session, snapshot)
            _load_money(session, snapshot)
        paths = session.execute(
            select(LandingFile.lake_key, LandingFile.partition_date, LandingFile.platform_code)
            .where(LandingFile.source == "orders", LandingFile.status == "loaded", LandingFile.lake_key.is_not(None),
                   LandingFile.business_day <= day, LandingFile.business_day >= window_start,
                   LandingFile.partition_date >= window_start,
                   LandingFile.partition_date <= day)
            .order_by(LandingFile.id)
        ).all()
    if lake is not None:
        _load_workers(lake, [(str(key), partition, platform) for key, partition, platform in paths], snapshot)
    return snapshot


def _load_orders(session: Session, snapshot: Snapshot, window_start: date) -> None:
    day = snapshot.day
    previous_month_start = (day.replace(day=1) - timedelta(days=1)).replace(day=1)
    start = min(window_start, previous_month_start)
    query = (
        select(OrderStats.accepted_date, OrderStats.platform_code, OrderStats.province_code, OrderStats.industry,
               func.sum(OrderStats.order_count), func.sum(OrderStats.cancelled_count), func.sum(OrderStats.premium_fen),
               func.sum(OrderStats.expected_premium_fen), func.sum(OrderStats.premium_mismatches))
        .where(OrderStats.business_day <= day, OrderStats.accepted_date >= start)
        .group_by(OrderStats.accepted_date, OrderStats.platform_code, OrderStats.province_code, OrderStats.industry)
    )
    snapshot.orders = sorted(
        OrderGroup(accepted, platform, province, industry, int(orders), int(cancelled), int(premium), int(expected),
                   int(mismatched))
        for accepted, platform, province, industry, orders, cancelled, premium, expected, mismatched
        in session.execute(query))
    latest: dict[tuple[str, str, str, str], DeclarationRow] = {}
    months = {previous_month_start.strftime("%Y-%m"), day.strftime("%Y-%m")}
    for row in session.execute(
        select(Declaration).where(Declaration.business_day <= day, Declaration.month.in_(sorted(months)))
        .order_by(Declaration.business_day, Declaration.id)
    ).scalars():  # the last amendment loaded up to D wins
        latest[(row.month, row.platform_code, row.province_code, row.industry)] = DeclarationRow(
            row.month, row.platform_code, row.province_code, row.industry, int(row.order_count), int(row.premium_fen))
    snapshot.declarations = [latest[key] for key in sorted(latest)]


def _load_claims(session: Session, snapshot: Snapshot) -> None:
    day = snapshot.day
    order_province = {
        (platform, order_id): province
        for platform, order_id, province in session.execute(
            select(ClaimOrder.platform_code, ClaimOrder.order_id, ClaimOrder.province_code)
            .join(LandingFile, LandingFile.id == ClaimOrder.file_id).where(LandingFile.business_day <= day))
    }
    first_filed: dict[ClaimKey, date] = {}
    current: dict[ClaimKey, tuple] = {}
    for platform, claim_id, partition, file_name, line, order_id, worker_ref, incident_province in session.execute(
        select(ClaimVersion.platform_code, ClaimVersion.claim_id, ClaimVersion.partition_date, ClaimVersion.file_name,
               ClaimVersion.line, ClaimVersion.order_id, ClaimVersion.worker_ref, ClaimVersion.incident_province_code)
        .where(ClaimVersion.business_day <= day)
    ):
        key = (platform, claim_id)
        if key not in first_filed or partition < first_filed[key]:
            first_filed[key] = partition
        position = (partition, file_name.encode("utf-8"), line)  # contract order, in code points
        if key not in current or position > current[key][0]:
            current[key] = (position, order_id, worker_ref, incident_province)
    for key in sorted(current):
        _position, order_id, worker_ref, incident_province = current[key]
        snapshot.claims[key] = ClaimFacts(key[0], key[1], first_filed[key], worker_ref,
                                          _province(order_province.get((key[0], order_id)), incident_province))
    version_province = {
        version_id: _province(province, incident)
        for version_id, province, incident in session.execute(
            select(ClaimVersion.id, ClaimOrder.province_code, ClaimVersion.incident_province_code)
            .outerjoin(ClaimOrder, and_(ClaimOrder.platform_code == ClaimVersion.platform_code,
                                        ClaimOrder.order_id == ClaimVersion.order_id))
            .where(ClaimVersion.business_day <= day))
    }
    snapshot.decisions = _decision_rows(session, Decision.business_day <= day, version_province)
    _load_awaiting(session, snapshot)


def _decision_rows(session: Session, condition: Any, version_province: dict[int, str]) -> list[DecisionRow]:
    """The decisions ``condition`` selects, in the order they were made, each with
    the province of the version it decided (``version_province``)."""
    return [
        DecisionRow(id_, platform, claim_id, business_day, outcome, None if payable is None else int(payable), pay_by,
                    version_province.get(version_id, ""))
        for id_, platform, claim_id, business_day, outcome, payable, pay_by, version_id in session.execute(
            select(Decision.id, Decision.platform_code, Decision.claim_id, Decision.business_day, Decision.outcome,
                   Decision.payable_fen, Decision.pay_by, Decision.claim_version_id)
            .where(condition).order_by(Decision.id))]


def _load_awaiting(session: Session, snapshot: Snapshot) -> None:
    day = snapshot.day
    columns = (AwaitingConfirmation.id, AwaitingConfirmation.platform_code, AwaitingConfirmation.claim_id,
               AwaitingConfirmation.confirm_by)
    # the rows open on D: still open, or closed after D (each through its partial index)
    still_open = select(*columns).where(AwaitingConfirmation.closed_on.is_(None),
                                        AwaitingConfirmation.confirm_by >= date.min,
                                        AwaitingConfirmation.opened_on <= day)
    closed_later = select(*columns).where(AwaitingConfirmation.closed_on > day,
                                          AwaitingConfirmation.opened_on <= day)
    rows = [*session.execute(still_open), *session.execute(closed_later)]
    for _id, platform, claim_id, confirm_by in sorted(rows):
        snapshot.awaiting[(platform, claim_id)] = confirm_by


_KEYS = "report_claim_keys"


@contextmanager
def claim_keys(session: Session, keys: Iterable[ClaimKey]) -> Iterator[str]:
    """A temporary table of claim keys, to join the history from (a row-value IN
    list is planned as a scan of the whole table by SQLite); with ``ordered_join``
    the keys lead."""
    from sqlalchemy import text

    connection = session.connection()
    connection.execute(text(f"DROP TABLE IF EXISTS {_KEYS}"))
    connection.execute(text(f"CREATE TEMPORARY TABLE {_KEYS} (platform_code VARCHAR(32) NOT NULL, "
                            "claim_id VARCHAR(64) NOT NULL, PRIMARY KEY (platform_code, claim_id))"))
    rows = [{"platform_code": p, "claim_id": c} for p, c in sorted(set(keys))]
    if rows:
        connection.execute(text(f"INSERT INTO {_KEYS} (platform_code, claim_id) VALUES (:platform_code, :claim_id)"),
                           rows)
    try:
        yield f"{_KEYS} k {ordered_join(connection.dialect.name)}"
    finally:
        connection.execute(text(f"DROP TABLE IF EXISTS {_KEYS}"))


def bank_answers(session: Session, condition: Any) -> list[BankAnswer]:
    """The bank's answers whose result the ledger recorded on the days ``condition``
    selects, by result day, then as the bank processed them."""
    return [BankAnswer(e2e, batch, status, code, business_day)
            for e2e, batch, status, code, business_day in session.execute(
                select(BankReturn.end_to_end_id, BankReturn.batch_id, BankReturn.status,
                       BankReturnResult.result_code, BankReturnResult.business_day)
                .join(BankReturnResult, BankReturnResult.bank_return_id == BankReturn.id)
                .where(condition)
                .order_by(BankReturnResult.business_day, BankReturn.processed_at, BankReturn.id))]


def _load_money(session: Session, snapshot: Snapshot) -> None:
    day = snapshot.day
    released = {released_day for (released_day,) in session.execute(
        select(PayoutRelease.business_day).where(PayoutRelease.business_day <= day))}
    snapshot.items = [
        ItemRow(e2e, batch, business_day, platform, claim_id, int(instalment), province, int(amount),
                returned_on if returned_on is not None and returned_on <= day else None, business_day in released)
        for e2e, batch, business_day, platform, claim_id, instalment, province, amount, returned_on in session.execute(
            select(PayoutItem.end_to_end_id, PayoutItem.batch_id, PayoutItem.business_day, PayoutItem.platform_code,
                   PayoutItem.claim_id, PayoutItem.instalment, PayoutItem.province_code, PayoutItem.amount_fen,
                   PayoutItem.returned_on)
            .where(PayoutItem.business_day <= day).order_by(PayoutItem.end_to_end_id))
    ]
    snapshot.answers = bank_answers(session, BankReturnResult.business_day <= day)
    _load_holds(session, snapshot)
    for kind, reference, platform, claim_id, account, amount in session.execute(
        select(LedgerTransaction.kind, LedgerTransaction.reference, LedgerTransaction.platform_code,
               LedgerTransaction.claim_id, LedgerPosting.account, LedgerPosting.amount_fen)
        .outerjoin(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.business_day <= day)
        .order_by(LedgerTransaction.id, LedgerPosting.id)
    ):
        entry = snapshot.transactions.setdefault((kind, reference), (platform, claim_id, {}))
        if account is not None:
            snapshot.balances[account] = snapshot.balances.get(account, 0) + int(amount)
            if amount > 0:
                entry[2][account] = entry[2].get(account, 0) + int(amount)


def _load_holds(session: Session, snapshot: Snapshot) -> None:
    """The owed items the payout run of D held out of its files, since the first day held."""
    day = snapshot.day
    earlier = aliased(PayoutException)
    first_held = (select(func.min(earlier.business_day))
                  .where(earlier.platform_code == PayoutException.platform_code,
                         earlier.claim_id == PayoutException.claim_id, earlier.reason_code == PayoutException.reason_code,
                         earlier.business_day <= day)
                  .scalar_subquery())
    for platform, claim_id, province, amount, code, since in session.execute(
            select(PayoutException.platform_code, PayoutException.claim_id, PayoutException.province_code,
                   PayoutException.amount_fen, PayoutException.reason_code, first_held)
            .where(PayoutException.business_day == day).order_by(PayoutException.id)):
        snapshot.holds.append((platform, claim_id, province or "", int(amount), code, as_date(since)))


def _load_workers(lake: Store, files: list[tuple[str, date, str]], snapshot: Snapshot) -> None:
    """Distinct workers per (province, platform, day) from the order lake's
    pseudonyms (the ledger's aggregates have orders, not people)."""
    import pyarrow.parquet as pq

    workers = snapshot.workers
    for key, partition, platform in files:
        with lake.local_copy(key) as path:
            table = pq.read_table(path, columns=["province_code", "worker_ref"])
        unique = table.group_by(["province_code", "worker_ref"]).aggregate([])
        provinces = unique["province_code"].to_pylist()
        refs = unique["worker_ref"].to_pylist()
        for province, ref in zip(provinces, refs, strict=True):
            workers.setdefault((province, platform, partition), set()).add(ref)

