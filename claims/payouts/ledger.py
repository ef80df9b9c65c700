"""The double-entry ledger: every money movement is a transaction whose postings
sum to zero, in integer fen (debit positive, credit negative). Nothing is updated:
a correction is a reversing transaction. Accounts, per paying province P:

- ``benefit_expense:P``   benefits the scheme owes (debited at approval);
- ``benefits_payable:P``  approved, not yet sent to the bank;
- ``in_transit:P``        sent to the bank in a released batch, no answer yet;
- ``bank:P``              the paying agency's account (credited when the bank settles).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Date, DateTime, bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from claims.ledger.db import ordered_join
from claims.ledger.models import LedgerPosting, LedgerTransaction


class UnbalancedTransaction(ValueError):
    pass


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


# -- a day's postings in bulk ------------------------------------------------------------------
# A day brings up to 100,000 approvals and as many disbursements: their transactions
# and postings are written by INSERT ... SELECT, in the database, not row by row from
# Python. Each posting pair is one amount with both signs, so every transaction
# balances by construction; the unique key on (kind, reference) still guards against
# a second posting of the same decision or item (the whole insert fails).

#: The paying province of a decision's claim version: where the order was accepted
#: (the incident's province when the order is unknown).
_PROVINCE = "COALESCE(NULLIF(o.province_code, ''), v.incident_province_code)"

_NEW_APPROVALS = "payouts_new_approval"

#: Decisions that set a claim's approved total: a payable decision (to its amount)
#: and a rejection (to zero: it withdraws what an earlier decision approved).
_SETS_APPROVAL = "(d.payable_fen IS NOT NULL OR d.outcome = 'rejected')"

_APPROVALS = f"""
INSERT INTO {_NEW_APPROVALS} (decision_id, business_day, platform_code, claim_id, reference, province_code, change_fen)
SELECT decision_id, business_day, platform_code, claim_id, reference, province_code, new_fen - previous_fen
FROM (
  SELECT d.id AS decision_id, d.business_day, d.platform_code, d.claim_id,
         'decision:' || CAST(d.id AS VARCHAR(20)) AS reference, {_PROVINCE} AS province_code, d.payable_fen,
         COALESCE(d.payable_fen, 0) AS new_fen,
         COALESCE((
             SELECT COALESCE(p.payable_fen, 0) FROM decision p
             WHERE p.platform_code = d.platform_code AND p.claim_id = d.claim_id
               AND {_SETS_APPROVAL.replace("d.", "p.")}
               AND p.id < d.id
             ORDER BY p.id DESC LIMIT 1), 0) AS previous_fen
  FROM {{claims}} w
  {{join}} decision d ON d.platform_code = w.platform_code AND d.claim_id = w.claim_id
  JOIN claim_version v ON v.id = d.claim_version_id
  LEFT JOIN claim_order o ON o.platform_code = v.platform_code AND o.order_id = v.order_id
  WHERE {_SETS_APPROVAL} AND d.business_day <= :day
    AND NOT EXISTS (SELECT 1 FROM ledger_transaction t
                    WHERE t.kind = 'approve' AND t.reference = 'decision:' || CAST(d.id AS VARCHAR(20)))
) a
WHERE payable_fen IS NOT NULL OR previous_fen <> 0
"""


def _pair(debit: str, credit: str) -> str:
    """Two posting sides: the debit account's prefix with +1, the credit's with -1."""
    return f"(SELECT '{debit}:' AS prefix, 1 AS sign, 0 AS side UNION ALL SELECT '{credit}:', -1, 1) s"


def post_approvals(session: Session, day: date, claims: str) -> int:
    """An 'approve' transaction per payable decision of ``day`` or before not yet
    posted, of the claims in ``claims`` (SQL of a relation with platform_code and
    claim_id, one row per claim: the payout run's work list): the claim's
    approved total moves to the decision's amount, so the change is the amount
    minus the claim's previous payable decision (in business day, id order); a
    raise adds the difference, a cut reverses some, and a rejection after an
    approval reverses it all. Returns how many were posted."""
    connection = session.connection()
    connection.execute(text(f"DROP TABLE IF EXISTS {_NEW_APPROVALS}"))
    connection.execute(text(
        f"CREATE TEMPORARY TABLE {_NEW_APPROVALS} (decision_id BIGINT PRIMARY KEY, business_day DATE NOT NULL, "
        "platform_code VARCHAR(32) NOT NULL, claim_id VARCHAR(64) NOT NULL, reference VARCHAR(128) NOT NULL, "
        "province_code VARCHAR(6) NOT NULL, change_fen BIGINT NOT NULL)"))
    try:
        approvals = _APPROVALS.replace("{claims}", claims).replace("{join}", ordered_join(connection.dialect.name))
        found = connection.execute(text(approvals)
                                   .bindparams(bindparam("day", day, type_=Date))).rowcount
        if found:
            connection.execute(text(f"""
                INSERT INTO ledger_transaction (business_day, kind, reference, platform_code, claim_id, created_at)
                SELECT business_day, 'approve', reference, platform_code, claim_id, :created_at
                FROM {_NEW_APPROVALS} ORDER BY business_day, decision_id
            """).bindparams(bindparam("created_at", datetime.now(UTC), type_=DateTime(timezone=True))))
            connection.execute(text(f"""
                INSERT INTO ledger_posting (transaction_id, account, amount_fen)
                SELECT t.id, s.prefix || a.province_code, s.sign * a.change_fen
                FROM {_NEW_APPROVALS} a
                JOIN ledger_transaction t ON t.kind = 'approve' AND t.reference = a.reference
                CROSS JOIN {_pair("benefit_expense", "benefits_payable")}
                WHERE a.change_fen <> 0
                ORDER BY t.id, s.side
            """))
    finally:
        connection.execute(text(f"DROP TABLE IF EXISTS {_NEW_APPROVALS}"))
    return int(found)


def post_disbursements(session: Session, day: date, staged: str) -> int:
    """A 'disburse' transaction per new payout item of ``day``, read from the table
    ``staged`` (seq, end_to_end_id, platform_code, claim_id, province_code,
    amount_fen; posted by province, then seq): the amount moves from payable to in
    transit.
    Returns how many were posted."""
    connection = session.connection()
    posted = connection.execute(text(f"""
        INSERT INTO ledger_transaction (business_day, kind, reference, platform_code, claim_id, created_at)
        SELECT :day, 'disburse', 'item:' || i.end_to_end_id, i.platform_code, i.claim_id, :created_at
        FROM {staged} i ORDER BY i.province_code, i.seq
    """).bindparams(bindparam("day", day, type_=Date),
                    bindparam("created_at", datetime.now(UTC), type_=DateTime(timezone=True)))).rowcount
    connection.execute(text(f"""
        INSERT INTO ledger_posting (transaction_id, account, amount_fen)
        SELECT t.id, s.prefix || i.province_code, s.sign * i.amount_fen
        FROM {staged} i
        JOIN ledger_transaction t ON t.kind = 'disburse' AND t.reference = 'item:' || i.end_to_end_id
        CROSS JOIN {_pair("benefits_payable", "in_transit")}
        WHERE i.amount_fen <> 0
        ORDER BY t.id, s.side
    """))
    return int(posted)


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
