"""The double-entry ledger: every money movement is a transaction whose postings
sum to zero, in integer fen (debit positive, credit negative). Nothing is updated:
a correction is a reversing transaction. Accounts, per paying province P:

- ``benefit_expense:P``   benefits the scheme owes (debited at approval);
- ``benefits_payable:P``  approved, not yet sent to the bank;
- ``in_transit:P``        sent to the bank in a released batch, no answer yet;
- ``bank:P``              the paying agency's account (credited when the bank settles).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from claims.ledger.models import LedgerPosting, LedgerTransaction


class UnbalancedTransaction(ValueError):
    pass


def post(session: Session, *, day: date, kind: str, reference: str, platform_code: str, claim_id: str,
         postings: Iterable[tuple[str, int]], checked: bool = False) -> int | None:
    """Record a transaction once (unique on kind and reference); returns its id, or
    None when it was recorded before (a re-run posts nothing twice). ``checked``:
    the caller already knows it is new (the unique key still guards)."""
    lines = [(account, int(amount)) for account, amount in postings if amount]
    if sum(amount for _account, amount in lines) != 0:
        raise UnbalancedTransaction(f"{kind} {reference}: postings sum to {sum(a for _x, a in lines)} fen, not 0")
    if not checked and session.execute(
        select(LedgerTransaction.id).where(LedgerTransaction.kind == kind, LedgerTransaction.reference == reference)
    ).first() is not None:
        return None
    transaction_id = session.execute(
        insert(LedgerTransaction).returning(LedgerTransaction.id),
        [{"business_day": day, "kind": kind, "reference": reference, "platform_code": platform_code,
          "claim_id": claim_id, "created_at": datetime.now(UTC)}],
    ).scalar_one()
    session.execute(insert(LedgerPosting), [
        {"transaction_id": transaction_id, "account": account, "amount_fen": amount} for account, amount in lines
    ])
    return int(transaction_id)


def post_many(session: Session, transactions: list[dict]) -> None:
    """Record many new transactions at once: each dict has day, kind, reference,
    platform_code, claim_id and postings [(account, fen)]. The caller has checked
    they are new; the unique key on (kind, reference) still guards."""
    if not transactions:
        return
    for transaction in transactions:
        total = sum(amount for _account, amount in transaction["postings"])
        if total != 0:
            raise UnbalancedTransaction(f"{transaction['kind']} {transaction['reference']}: postings sum to {total} fen")
    created_at = datetime.now(UTC)
    ids = session.execute(
        insert(LedgerTransaction).returning(LedgerTransaction.id, sort_by_parameter_order=True),
        [{"business_day": t["day"], "kind": t["kind"], "reference": t["reference"], "platform_code": t["platform_code"],
          "claim_id": t["claim_id"], "created_at": created_at} for t in transactions],
    ).scalars().all()
    session.execute(insert(LedgerPosting), [
        {"transaction_id": transaction_id, "account": account, "amount_fen": int(amount)}
        for transaction_id, transaction in zip(ids, transactions, strict=True)
        for account, amount in transaction["postings"] if amount
    ])


def balances(session: Session, day: date | None = None) -> dict[str, int]:
    """Balance of every account (optionally as of the end of ``day``)."""
    query = (
        select(LedgerPosting.account, func.sum(LedgerPosting.amount_fen))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .group_by(LedgerPosting.account)
    )
    if day is not None:
        query = query.where(LedgerTransaction.business_day <= day)
    return {account: int(total) for account, total in session.execute(query)}


def trail(session: Session, platform_code: str, claim_id: str) -> list[tuple[LedgerTransaction, list[LedgerPosting]]]:
    transactions = session.execute(
        select(LedgerTransaction).where(LedgerTransaction.platform_code == platform_code,
                                        LedgerTransaction.claim_id == claim_id)
        .order_by(LedgerTransaction.business_day, LedgerTransaction.id)
    ).scalars().all()
    result = []
    for transaction in transactions:
        postings = session.execute(
            select(LedgerPosting).where(LedgerPosting.transaction_id == transaction.id).order_by(LedgerPosting.id)
        ).scalars().all()
        result.append((transaction, list(postings)))
    return result
