"""Reconciliation for finance (CONTRACT.md, Reports): premiums against the
platforms' declarations, and payouts against the ledger's own accounts.

A premium difference is a business finding: it is reported. A payout tie-out
that does not hold is a system fault: the caller fails after writing the files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, Engine, and_, bindparam, func, literal, or_, select, text
from sqlalchemy.orm import Session, aliased

from claims.ledger.models import (
    BankReturn,
    BankReturnResult,
    Decision,
    LedgerPosting,
    LedgerTransaction,
    PayoutBatch,
    PayoutItem,
    PayoutRelease,
    PayoutWork,
)
from claims.reports.snapshot import (
    ClaimKey,
    DecisionRow,
    ItemRow,
    Snapshot,
    as_date,
    bank_answers,
    claim_keys,
    sets_approval,
)

PREMIUM_COLUMNS = ["month", "platform_code", "province_code", "industry", "orders", "cancelled_orders", "premium_fen",
                   "expected_premium_fen", "mismatched_orders", "declared_orders", "declared_premium_fen",
                   "orders_difference", "premium_difference_fen", "status"]
PAYOUT_COLUMNS = ["province_code", "approved_fen", "paid_fen", "returned_fen", "settled_fen", "in_transit_fen",
                  "owed_fen", "ledger_payable_fen", "ledger_in_transit_fen", "ledger_bank_fen", "status",
                  # an addition to CONTRACT.md's columns: items of prepared batches not yet released (four eyes);
                  # the ledger moves them to in transit when they are prepared
                  "awaiting_release_fen"]
EXCEPTION_COLUMNS = ["province_code", "claim_id", "platform_code", "kind", "amount_fen", "since"]

#: Exception kinds (docs in README's Reports part).
#: Items behind a difference between the records and the ledger:
APPROVAL_NOT_IN_LEDGER = "approval_not_in_ledger"
PAYMENT_NOT_IN_LEDGER = "payment_not_in_ledger"
SETTLEMENT_NOT_IN_LEDGER = "settlement_not_in_ledger"
RETURN_NOT_IN_LEDGER = "return_not_in_ledger"
LEDGER_ENTRY_WITHOUT_RECORD = "ledger_entry_without_record"
LEDGER_AMOUNT_DIFFERS = "ledger_amount_differs"
LEDGER_DIFFERENCES = frozenset({APPROVAL_NOT_IN_LEDGER, PAYMENT_NOT_IN_LEDGER, SETTLEMENT_NOT_IN_LEDGER,
                                RETURN_NOT_IN_LEDGER, LEDGER_ENTRY_WITHOUT_RECORD, LEDGER_AMOUNT_DIFFERS})
#: Claims and answers that need someone's attention, though the books tie out:
UNPAID_PAST_DEADLINE = "unpaid_past_deadline"
RETURNED_NOT_REPAID = "returned_not_repaid"
IN_TRANSIT_TOO_LONG = "in_transit_too_long"
UNKNOWN_BANK_ANSWER = "unknown_bank_answer"
BANK_ANSWER_BATCH_MISMATCH = "bank_answer_batch_mismatch"
CONTRADICTORY_BANK_ANSWER = "contradictory_bank_answer"

_ANSWER_KINDS = {"RETURN_UNKNOWN_ITEM": UNKNOWN_BANK_ANSWER, "RETURN_BATCH_MISMATCH": BANK_ANSWER_BATCH_MISMATCH,
                 "RETURN_ALREADY_FINAL": CONTRADICTORY_BANK_ANSWER}
_MISSING = {"approve": APPROVAL_NOT_IN_LEDGER, "disburse": PAYMENT_NOT_IN_LEDGER, "settle": SETTLEMENT_NOT_IN_LEDGER,
            "return": RETURN_NOT_IN_LEDGER}


def held_kind(reason_code: str) -> str:
    """The exception kind of an owed item the payout run held out of its files:
    ``held_`` and its PAYOUT_* reason (``held_no_paying_agency``, ``held_order_unknown``,
    ``held_over_item_ceiling``, ``held_payee_unpayable``)."""
    return "held_" + reason_code.removeprefix("PAYOUT_").lower()


def month_of(day: date) -> str:
    return day.strftime("%Y-%m")


def previous_month(day: date) -> date:
    return day.replace(day=1) - timedelta(days=1)


# -- premiums ----------------------------------------------------------------------------------
def premium_reconciliation(snapshot: Snapshot) -> list[dict[str, object]]:
    """One line per (month, platform, province, industry) with orders or a
    declaration, for D's month and the month before, in that order."""
    months = (month_of(previous_month(snapshot.day)), month_of(snapshot.day))
    totals: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for group in snapshot.orders:
        month = month_of(group.accepted_date)
        if month not in months or group.accepted_date > snapshot.day:
            continue
        figures = totals[(month, group.platform_code, group.province_code, group.industry)]
        for index, value in enumerate((group.orders, group.cancelled, group.premium_fen, group.expected_premium_fen,
                                       group.mismatched)):
            figures[index] += value
    declared = {(d.month, d.platform_code, d.province_code, d.industry): d for d in snapshot.declarations
                if d.month in months}
    lines = []
    for key in sorted(set(totals) | set(declared)):
        orders, cancelled, premium, expected, mismatched = totals.get(key, [0, 0, 0, 0, 0])
        declaration = declared.get(key)
        line: dict[str, object] = dict(zip(("month", "platform_code", "province_code", "industry"), key, strict=True))
        line.update(orders=orders, cancelled_orders=cancelled, premium_fen=premium, expected_premium_fen=expected,
                    mismatched_orders=mismatched)
        if declaration is None:
            line.update(declared_orders="", declared_premium_fen="", orders_difference="", premium_difference_fen="",
                        status="open")
        else:
            orders_difference = declaration.orders - orders
            premium_difference = declaration.premium_fen - premium
            line.update(declared_orders=declaration.orders, declared_premium_fen=declaration.premium_fen,
                        orders_difference=orders_difference, premium_difference_fen=premium_difference,
                        status="ties" if orders_difference == 0 and premium_difference == 0 else "differs")
        lines.append(line)
    return lines


# -- payouts -----------------------------------------------------------------------------------
@dataclass
class PayoutReconciliation:
    lines: list[dict[str, object]]
    exceptions: list[dict[str, object]]

    @property
    def ties(self) -> bool:
        """Every province's balances tie out, and no record differs from its ledger
        transaction (differences that offset each other are a fault too)."""
        return not self.differing_provinces

    @property
    def differing_provinces(self) -> list[str]:
        return sorted({str(line["province_code"]) for line in self.lines if line["status"] != "ties"}
                      | {str(item["province_code"]) for item in self.exceptions if item["kind"] in LEDGER_DIFFERENCES})


def _province_of_account(account: str) -> tuple[str, str]:
    prefix, _, province = account.partition(":")
    return prefix, province


def expected_ledger(snapshot: Snapshot) -> tuple[dict[tuple[str, str], tuple[str, str, str, int, date]],
                                                  dict[str, int]]:
    """The ledger the records call for: per (kind, reference), the debited account's
    prefix, province, amount and the day; and per province the approvals' total
    (each payable decision moves its claim's approved total to its amount, a
    rejection to 0)."""
    expected: dict[tuple[str, str], tuple[str, str, str, int, date]] = {}
    approved: dict[str, int] = defaultdict(int)
    previous: dict[ClaimKey, int] = {}
    for decision in snapshot.decisions:
        if not sets_approval(decision):
            continue
        key = (decision.platform_code, decision.claim_id)
        change = (decision.payable_fen or 0) - previous.get(key, 0)
        previous[key] = decision.payable_fen or 0
        approved[decision.province_code] += change
        # a raise debits the expense; a cut or a withdrawal debits the payable back
        account = "benefit_expense" if change > 0 else "benefits_payable" if change < 0 else ""
        expected[("approve", f"decision:{decision.id}")] = (
            account, decision.province_code, f"{decision.platform_code}\x00{decision.claim_id}", abs(change),
            decision.business_day)
    items = {item.end_to_end_id: item for item in snapshot.items}
    for item in snapshot.items:
        expected[("disburse", f"item:{item.end_to_end_id}")] = (
            "benefits_payable", item.province_code, f"{item.platform_code}\x00{item.claim_id}", item.amount_fen,
            item.business_day)
    for answer in snapshot.answers:
        answered_item = items.get(answer.end_to_end_id)
        if answered_item is None or answer.result_code not in ("RETURN_SETTLED", "RETURN_FAILED_REVERSED"):
            continue
        kind = "settle" if answer.result_code == "RETURN_SETTLED" else "return"
        expected[(kind, f"item:{answered_item.end_to_end_id}")] = (
            "in_transit", answered_item.province_code, f"{answered_item.platform_code}\x00{answered_item.claim_id}",
            answered_item.amount_fen, answer.business_day)
    return expected, approved


def payout_reconciliation(snapshot: Snapshot, in_transit_alert_days: int) -> PayoutReconciliation:
    day = snapshot.day
    expected, approved = expected_ledger(snapshot)
    items = {item.end_to_end_id: item for item in snapshot.items}
    paid: dict[str, int] = defaultdict(int)
    awaiting_release: dict[str, int] = defaultdict(int)
    for item in snapshot.items:
        (paid if item.released else awaiting_release)[item.province_code] += item.amount_fen
    returned: dict[str, int] = defaultdict(int)
    settled: dict[str, int] = defaultdict(int)
    answered: dict[str, date] = {}
    for answer in snapshot.answers:
        target = items.get(answer.end_to_end_id)
        if target is None:
            continue
        if answer.result_code == "RETURN_SETTLED":
            settled[target.province_code] += target.amount_fen
            answered[target.end_to_end_id] = answer.business_day
        elif answer.result_code == "RETURN_FAILED_REVERSED":
            returned[target.province_code] += target.amount_fen
            answered[target.end_to_end_id] = answer.business_day
    ledger: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for account, balance in snapshot.balances.items():
        prefix, province = _province_of_account(account)
        ledger[province][prefix] += balance
    provinces = sorted({p for p in (*approved, *paid, *awaiting_release, *returned, *settled) if p}
                       | {p for p, accounts in ledger.items() if p and any(accounts.values())})
    lines = []
    for province in provinces:
        in_transit = paid[province] - returned[province] - settled[province]
        owed = approved[province] - (paid[province] - returned[province])
        accounts = ledger.get(province, {})
        # the liability accounts are credit balances: shown as positive fen
        ledger_payable = -accounts.get("benefits_payable", 0)
        ledger_in_transit = -accounts.get("in_transit", 0)
        ledger_bank = -accounts.get("bank", 0)
        waiting = awaiting_release[province]
        ties = (ledger_payable == owed - waiting and ledger_in_transit == in_transit + waiting
                and ledger_bank == settled[province])
        lines.append({
            "province_code": province, "approved_fen": approved[province], "paid_fen": paid[province],
            "returned_fen": returned[province], "settled_fen": settled[province], "in_transit_fen": in_transit,
            "owed_fen": owed, "ledger_payable_fen": ledger_payable, "ledger_in_transit_fen": ledger_in_transit,
            "ledger_bank_fen": ledger_bank, "status": "ties" if ties else "differs", "awaiting_release_fen": waiting,
        })
    exceptions = _ledger_differences(snapshot, expected)
    exceptions += _claims_needing_attention(snapshot, answered, in_transit_alert_days)
    batches = {item.batch_id: item.province_code for item in snapshot.items}
    for answer in snapshot.answers:
        kind = _ANSWER_KINDS.get(answer.result_code)
        if kind is None or answer.business_day != day:  # the day's unresolved answers
            continue
        known = items.get(answer.end_to_end_id)
        exceptions.append({
            "province_code": known.province_code if known else batches.get(answer.batch_id, ""),
            "claim_id": known.claim_id if known else "", "platform_code": known.platform_code if known else "",
            "kind": kind, "amount_fen": known.amount_fen if known else "", "since": answer.business_day.isoformat()})
    for platform, claim_id, province, amount, code, since in snapshot.holds:  # held out of the day's files
        exceptions.append({"province_code": province, "claim_id": claim_id, "platform_code": platform,
                           "kind": held_kind(code), "amount_fen": amount, "since": since.isoformat()})
    exceptions.sort(key=lambda e: (str(e["province_code"]), str(e["platform_code"]), str(e["claim_id"]),
                                   str(e["kind"]), str(e["since"]), str(e["amount_fen"])))
    return PayoutReconciliation(lines, exceptions)


def _ledger_differences(snapshot: Snapshot,
                        expected: dict[tuple[str, str], tuple[str, str, str, int, date]]) -> list[dict[str, object]]:
    """Every record without its ledger transaction, every ledger transaction
    without its record, and every amount or account that differs."""
    found = []

    def exception(province: str, claim: str, kind: str, amount: int, since: date) -> dict[str, object]:
        platform, _, claim_id = claim.partition("\x00")
        return {"province_code": province, "claim_id": claim_id, "platform_code": platform, "kind": kind,
                "amount_fen": amount, "since": since.isoformat()}

    for (kind, reference), (prefix, province, claim, amount, since) in expected.items():
        actual = snapshot.transactions.get((kind, reference))
        if actual is None:
            if amount:
                found.append(exception(province, claim, _MISSING[kind], amount, since))
            continue
        debits = actual[2]
        wanted = {f"{prefix}:{province}": amount} if amount else {}
        if debits != wanted:
            found.append(exception(province, claim, LEDGER_AMOUNT_DIFFERS,
                                   sum(debits.values()) - amount, since))
    for (kind, reference), (platform, claim_id, debits) in snapshot.transactions.items():
        if (kind, reference) in expected or not debits:
            continue
        province = _province_of_account(sorted(debits)[0])[1]
        found.append({"province_code": province, "claim_id": claim_id, "platform_code": platform,
                      "kind": LEDGER_ENTRY_WITHOUT_RECORD, "amount_fen": sum(debits.values()),
                      "since": snapshot.day.isoformat()})
    return found


def _claims_needing_attention(snapshot: Snapshot, answered: dict[str, date],
                              in_transit_alert_days: int) -> list[dict[str, object]]:
    """Claims approved but unpaid past their payment deadline, returned and not
    paid again, and items in transit longer than the configured days."""
    found = _owed_claims(snapshot)
    day = snapshot.day
    for item in snapshot.items:
        if not item.released or item.end_to_end_id in answered:
            continue
        if (day - item.business_day).days > in_transit_alert_days:
            found.append({"province_code": item.province_code, "claim_id": item.claim_id,
                          "platform_code": item.platform_code, "kind": IN_TRANSIT_TOO_LONG,
                          "amount_fen": item.amount_fen, "since": item.business_day.isoformat()})
    return found


def _owed_claims(snapshot: Snapshot) -> list[dict[str, object]]:
    """Claims approved and still owed: returned and not paid again, or unpaid past
    their payment deadline."""
    day = snapshot.day
    found: list[dict[str, object]] = []
    by_claim = snapshot.items_by_claim()
    for key, decision in snapshot.latest_payable().items():
        items = by_claim.get(key, [])
        covered = sum(item.amount_fen for item in items if item.returned_on is None)
        owed = (decision.payable_fen or 0) - covered
        if owed <= 0:
            continue
        returned = [item for item in items if item.returned_on is not None]
        province = items[-1].province_code if items else decision.province_code
        base = {"province_code": province, "claim_id": key[1], "platform_code": key[0], "amount_fen": owed}
        if returned:
            since = max(item.returned_on for item in returned if item.returned_on is not None)
            found.append(dict(base, kind=RETURNED_NOT_REPAID, since=since.isoformat()))
        elif decision.pay_by is not None and decision.pay_by < day:
            found.append(dict(base, kind=UNPAID_PAST_DEADLINE, since=decision.pay_by.isoformat()))
    return found


def owed_by_claim(snapshot: Snapshot) -> dict[ClaimKey, tuple[int, list[ItemRow]]]:
    """What each claim with a payable decision is still owed on D (approved minus
    what its live items cover), with its items."""
    by_claim = snapshot.items_by_claim()
    result = {}
    for key, decision in snapshot.latest_payable().items():
        items = by_claim.get(key, [])
        covered = sum(item.amount_fen for item in items if item.returned_on is None)
        result[key] = ((decision.payable_fen or 0) - covered, items)
    return result


# -- payouts from the running totals -----------------------------------------------------------
def payout_reconciliation_as_of(engine: Engine, day: date, in_transit_alert_days: int,
                                history: Callable[[], Snapshot]) -> PayoutReconciliation:
    """The payout reconciliation of ``day`` from the running totals (claims.reports.totals):
    cumulative lines from the closed days' sums, item-level differences of the day's
    records and ledger transactions, and the claims needing attention found from the
    work list and the money still in transit, each checked against the totals.

    When a province does not tie, the closed days are first recomputed from the
    detail in SQL (stale ones closed again); if it still does not tie, the whole
    history is compared item by item (``history``: the full snapshot), so every item
    behind a difference is listed."""
    from claims.reports import totals as running

    with Session(engine) as session, session.begin():
        running.close_through(session, day)
    with Session(engine) as session:
        figures = running.cumulative(session, day)
        lines = _lines_from_totals(figures)
        if any(line["status"] != "ties" for line in lines):
            stale = running.stale_days(session, day)
            if stale:
                with Session(engine) as writer, writer.begin():
                    running.reclose(writer, stale)
                figures = running.cumulative(session, day)
                lines = _lines_from_totals(figures)
        if any(line["status"] != "ties" for line in lines):
            return payout_reconciliation(history(), in_transit_alert_days)
        full: list[Snapshot] = []

        def whole() -> Snapshot:
            if not full:
                full.append(history())
            return full[0]

        exceptions = _day_ledger_differences(session, day)
        exceptions += _owed_from_work_list(session, day, figures, whole)
        exceptions += _in_transit_too_long(session, day, figures, in_transit_alert_days)
        exceptions += _day_answer_exceptions(session, day)
        holds = Snapshot(day)
        from claims.reports.snapshot import _load_holds

        _load_holds(session, holds)
    for platform, claim_id, province, amount, code, since in holds.holds:
        exceptions.append({"province_code": province, "claim_id": claim_id, "platform_code": platform,
                           "kind": held_kind(code), "amount_fen": amount, "since": since.isoformat()})
    exceptions.sort(key=lambda e: (str(e["province_code"]), str(e["platform_code"]), str(e["claim_id"]),
                                   str(e["kind"]), str(e["since"]), str(e["amount_fen"])))
    return PayoutReconciliation(lines, exceptions)


def _lines_from_totals(figures: Any) -> list[dict[str, object]]:
    provinces = sorted({p for p in figures.provinces if p})
    lines = []
    for province in provinces:
        paid, returned, settled = figures.paid[province], figures.returned[province], figures.settled[province]
        in_transit = paid - returned - settled
        owed = figures.approved[province] - (paid - returned)
        accounts = figures.ledger.get(province, {})
        ledger_payable = -accounts.get("benefits_payable", 0)
        ledger_in_transit = -accounts.get("in_transit", 0)
        ledger_bank = -accounts.get("bank", 0)
        waiting = figures.awaiting_release[province]
        ties = (ledger_payable == owed - waiting and ledger_in_transit == in_transit + waiting
                and ledger_bank == settled)
        lines.append({
            "province_code": province, "approved_fen": figures.approved[province], "paid_fen": paid,
            "returned_fen": returned, "settled_fen": settled, "in_transit_fen": in_transit, "owed_fen": owed,
            "ledger_payable_fen": ledger_payable, "ledger_in_transit_fen": ledger_in_transit,
            "ledger_bank_fen": ledger_bank, "status": "ties" if ties else "differs", "awaiting_release_fen": waiting,
        })
    return lines


def _decisions_of(session: Session, keys: Iterable[ClaimKey], day: date | None) -> list[DecisionRow]:
    """The approval-setting decisions of the claims (up to ``day``), in the order made."""
    rows = []
    with claim_keys(session, keys) as joined:
        for id_, platform, claim_id, business_day, outcome, payable, pay_by, province in session.execute(text(
                "SELECT d.id, d.platform_code, d.claim_id, d.business_day, d.outcome, d.payable_fen, d.pay_by, "
                "COALESCE(NULLIF(o.province_code, ''), v.incident_province_code) "
                f"FROM {joined} decision d ON d.platform_code = k.platform_code AND d.claim_id = k.claim_id "
                "JOIN claim_version v ON v.id = d.claim_version_id "
                "LEFT JOIN claim_order o ON o.platform_code = v.platform_code AND o.order_id = v.order_id "
                "WHERE d.payable_fen IS NOT NULL OR d.outcome = 'rejected'")):
            decided = as_date(business_day)
            if day is None or decided <= day:
                rows.append(DecisionRow(int(id_), platform, claim_id, decided, outcome,
                                        None if payable is None else int(payable),
                                        None if pay_by is None else as_date(pay_by), str(province or "")))
    return sorted(rows, key=lambda row: row.id)


def _released(session: Session, day: date) -> set[date]:
    return {d for (d,) in session.execute(select(PayoutRelease.business_day).where(PayoutRelease.business_day <= day))}


_ITEM_COLUMNS = (PayoutItem.end_to_end_id, PayoutItem.batch_id, PayoutItem.business_day, PayoutItem.platform_code,
                 PayoutItem.claim_id, PayoutItem.instalment, PayoutItem.province_code, PayoutItem.amount_fen,
                 PayoutItem.returned_on)


def _item(row: Any, day: date, released: set[date]) -> ItemRow:
    e2e, batch, business_day, platform, claim_id, instalment, province, amount, returned_on = row
    business_day = as_date(business_day)
    returned_on = None if returned_on is None else as_date(returned_on)
    return ItemRow(e2e, batch, business_day, platform, claim_id, int(instalment), province, int(amount),
                   returned_on if returned_on is not None and returned_on <= day else None, business_day in released)


def _item_rows(session: Session, day: date, *conditions: Any) -> list[ItemRow]:
    """Items up to ``day`` meeting ``conditions`` (the day filter is applied here, not
    in SQL, so that SQLite looks items up by the conditions' index, never by day)."""
    released = _released(session, day)
    items = [_item(row, day, released) for row in session.execute(
        select(*_ITEM_COLUMNS).where(*conditions).order_by(PayoutItem.end_to_end_id))]
    return [item for item in items if item.business_day <= day]


def _items_of(session: Session, keys: Iterable[ClaimKey], day: date) -> list[ItemRow]:
    """The items of the claims up to ``day``: live ones and returned ones, each through
    its partial index of claims."""
    released = _released(session, day)
    items = []
    with claim_keys(session, keys) as joined:
        for returned in ("IS NULL", "IS NOT NULL"):
            items += [_item(row, day, released) for row in session.execute(text(
                "SELECT i.end_to_end_id, i.batch_id, i.business_day, i.platform_code, i.claim_id, i.instalment, "
                f"i.province_code, i.amount_fen, i.returned_on FROM {joined} payout_item i "
                f"ON i.platform_code = k.platform_code AND i.claim_id = k.claim_id AND i.returned_on {returned}"))]
    return sorted((item for item in items if item.business_day <= day), key=lambda item: item.end_to_end_id)


#: A transaction ``t`` (NULL when missing) whose debits are not exactly ``{account}`` of
#: ``amount`` (none at all for 0): the ledger side of one record differs (the same test
#: as ``_ledger_differences``' comparison of the debits, done in SQL).
_DEBITS_DIFFER = """(t.id IS NULL AND {amount} <> 0) OR (t.id IS NOT NULL AND (
    SELECT CASE WHEN COUNT(CASE WHEN p.account <> {account} THEN 1 END) = 0
                 AND COALESCE(SUM(p.amount_fen), 0) = {amount} THEN 1 ELSE 0 END
    FROM ledger_posting p WHERE p.transaction_id = t.id AND p.amount_fen > 0) = 0)"""

#: The day's approvals as the records call for them (a decision's change of its
#: claim's approved total: its amount minus the previous approval-setting decision's,
#: in id order, as ``expected_ledger``) against the day's 'approve' transactions.
_APPROVALS_CHECKED = """
SELECT {select}
FROM decision d
JOIN claim_version v ON v.id = d.claim_version_id
LEFT JOIN claim_order o ON o.platform_code = v.platform_code AND o.order_id = v.order_id
LEFT JOIN decision b ON b.id = (
    SELECT MAX(q.id) FROM decision q
    WHERE q.platform_code = d.platform_code AND q.claim_id = d.claim_id
      AND (q.payable_fen IS NOT NULL OR q.outcome = 'rejected') AND q.id < d.id)
LEFT JOIN ledger_transaction t
  ON t.kind = 'approve' AND t.reference = 'decision:' || CAST(d.id AS VARCHAR(20)) AND t.business_day = :day
WHERE d.business_day = :day AND (d.payable_fen IS NOT NULL OR d.outcome = 'rejected')
"""
_CHANGE = "(COALESCE(d.payable_fen, 0) - COALESCE(b.payable_fen, 0))"
_APPROVAL_DIFFERS = _DEBITS_DIFFER.format(
    account=(f"CASE WHEN {_CHANGE} > 0 THEN 'benefit_expense:' WHEN {_CHANGE} < 0 THEN 'benefits_payable:' "
             "ELSE ':' END || COALESCE(NULLIF(o.province_code, ''), v.incident_province_code, '')"),
    amount=f"ABS({_CHANGE})")

#: The day's items against the day's 'disburse' transactions.
_ITEMS_CHECKED = """
SELECT {select}
FROM payout_item i
LEFT JOIN ledger_transaction t
  ON t.kind = 'disburse' AND t.reference = 'item:' || i.end_to_end_id AND t.business_day = :day
WHERE i.business_day = :day
"""
_ITEM_DIFFERS = _DEBITS_DIFFER.format(account="'benefits_payable:' || i.province_code", amount="i.amount_fen")

#: The day's settled and returned answers of known items (up to the day) against the
#: day's 'settle' and 'return' transactions.
_ANSWERS_CHECKED = """
SELECT {select}
FROM bank_return_result r
JOIN bank_return a ON a.id = r.bank_return_id
JOIN payout_item i ON i.end_to_end_id = a.end_to_end_id
LEFT JOIN ledger_transaction t
  ON t.kind = CASE WHEN r.result_code = 'RETURN_SETTLED' THEN 'settle' ELSE 'return' END
 AND t.reference = 'item:' || i.end_to_end_id AND t.business_day = :day
WHERE r.business_day = :day AND r.result_code IN ('RETURN_SETTLED', 'RETURN_FAILED_REVERSED')
  AND i.business_day <= :day
"""
_ANSWER_DIFFERS = _DEBITS_DIFFER.format(account="'in_transit:' || i.province_code", amount="i.amount_fen")
_ANSWER_KIND = "CASE WHEN r.result_code = 'RETURN_SETTLED' THEN 'settle' ELSE 'return' END"

_CHECKS = (  # (query, the record's ledger key, the test, the transactions matched)
    (_APPROVALS_CHECKED, "'approve', 'decision:' || CAST(d.id AS VARCHAR(20))", _APPROVAL_DIFFERS, "COUNT(t.id)"),
    (_ITEMS_CHECKED, "'disburse', 'item:' || i.end_to_end_id", _ITEM_DIFFERS, "COUNT(t.id)"),
    # two answers of an item on the day would call for one transaction
    (_ANSWERS_CHECKED, f"{_ANSWER_KIND}, 'item:' || i.end_to_end_id", _ANSWER_DIFFERS, "COUNT(DISTINCT t.id)"),
)


def _day_run(session: Session, sql: str, day: date) -> list[Any]:
    return list(session.execute(text(sql).bindparams(bindparam("day", day, type_=Date))))


def _day_ledger_differences(session: Session, day: date) -> list[dict[str, object]]:
    """The day's records against the day's ledger transactions, item by item (the
    earlier days were compared by their own reports; their sums still tie).

    Each record is compared with its transaction in SQL (one pass per kind that counts
    the records that differ and the transactions matched); only when some differ, or
    the day has transactions no record matched, are those records and transactions
    read, and compared as ``_ledger_differences`` compares the whole history."""
    differing: set[tuple[str, str]] = set()
    matched = 0
    for query, key, differs, count in _CHECKS:
        (found, bad), = _day_run(session, query.format(
            select=f"{count}, COALESCE(SUM(CASE WHEN {differs} THEN 1 ELSE 0 END), 0)"), day)
        matched += int(found)
        if bad:
            differing |= {(kind, reference) for kind, reference in _day_run(
                session, query.format(select=key) + f" AND ({differs})", day)}
    transactions = int(session.scalar(select(func.count()).select_from(LedgerTransaction)
                                      .where(LedgerTransaction.business_day == day)) or 0)
    unmatched: set[tuple[str, str]] = set()
    if transactions != matched:  # some of the day's transactions have no record of the day
        ids = set(session.scalars(select(LedgerTransaction.id).where(LedgerTransaction.business_day == day)))
        for query, _key, _differs, _count in _CHECKS:
            ids -= {id_ for (id_,) in _day_run(session, query.format(select="t.id") + " AND t.id IS NOT NULL", day)}
        for chunk in _chunks(ids):
            unmatched |= {(kind, reference) for kind, reference in session.execute(
                select(LedgerTransaction.kind, LedgerTransaction.reference).where(LedgerTransaction.id.in_(chunk)))}
    if not differing and not unmatched:
        return []
    return _ledger_differences_of(session, day, differing, unmatched)


def _chunks(values: Iterable[Any], size: int = 500) -> Iterator[list[Any]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]


def _ledger_differences_of(session: Session, day: date, differing: set[tuple[str, str]],
                           unmatched: set[tuple[str, str]]) -> list[dict[str, object]]:
    """The differences of the day's records ``differing`` (keys of the ledger
    transactions they call for) and of the day's transactions ``unmatched`` (no
    record calls for them), each read with what it needs and compared in Python."""
    snapshot = Snapshot(day)
    decision_ids = [int(reference.removeprefix("decision:")) for kind, reference in differing if kind == "approve"]
    claims: set[ClaimKey] = set()
    for chunk in _chunks(decision_ids):
        claims |= {(p, c) for p, c in session.execute(
            select(Decision.platform_code, Decision.claim_id).where(Decision.id.in_(chunk)))}
    snapshot.decisions = _decisions_of(session, claims, None) if claims else []
    e2es = {reference.removeprefix("item:") for kind, reference in differing if kind != "approve"}
    released = _released(session, day)
    items = []
    for chunk in _chunks(e2es):
        items += [_item(row, day, released) for row in session.execute(
            select(*_ITEM_COLUMNS).where(PayoutItem.end_to_end_id.in_(chunk)))]
    snapshot.items = sorted((item for item in items if item.business_day <= day), key=lambda item: item.end_to_end_id)
    answers = []
    for chunk in _chunks(e2es):
        answers += bank_answers(session, and_(BankReturnResult.business_day == day,
                                              BankReturn.end_to_end_id.in_(chunk)))
    snapshot.answers = answers
    wanted = differing | unmatched
    for chunk in _chunks(reference for _kind, reference in wanted):
        for kind, reference, platform, claim_id, account, amount in session.execute(
            select(LedgerTransaction.kind, LedgerTransaction.reference, LedgerTransaction.platform_code,
                   LedgerTransaction.claim_id, LedgerPosting.account, LedgerPosting.amount_fen)
            .outerjoin(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
            .where(LedgerTransaction.business_day == day, LedgerTransaction.reference.in_(chunk))
            .order_by(LedgerTransaction.id, LedgerPosting.id)
        ):
            if (kind, reference) not in wanted:
                continue
            entry = snapshot.transactions.setdefault((kind, reference), (platform, claim_id, {}))
            if account is not None and amount > 0:
                entry[2][account] = entry[2].get(account, 0) + int(amount)
    expected = {key: value for key, value in expected_ledger(snapshot)[0].items()
                if value[4] == day and key in differing}
    return _ledger_differences(snapshot, expected)


def _owed_from_work_list(session: Session, day: date, figures: Any,
                         whole: Callable[[], Snapshot]) -> list[dict[str, object]]:
    """Claims approved and still owed (unpaid past the deadline, returned and not
    paid again): a claim owed money is on the payout work list until it is settled;
    a claim a later run touched is looked at too (this may be an old day rendered
    again). What they are owed must add up to the totals' owed (less what awaits
    release); otherwise every claim is looked at."""
    candidates: set[ClaimKey] = {(p, c) for p, c in session.execute(
        select(PayoutWork.platform_code, PayoutWork.claim_id))}
    # of the claims a later run touched, only those approved (or rejected) by D can
    # be owed on D: a day rendered again after many others reads no later claim
    earlier = aliased(Decision)

    def approved_by_then(model: Any) -> Any:
        return (select(earlier.id).where(
            earlier.platform_code == model.platform_code, earlier.claim_id == model.claim_id,
            earlier.business_day <= day, or_(earlier.payable_fen.is_not(None), earlier.outcome == "rejected"))
            .exists())

    for model in (Decision, PayoutItem):
        candidates |= {(p, c) for p, c in session.execute(
            select(model.platform_code, model.claim_id).where(model.business_day > day, approved_by_then(model)))}
    # approvals and payments after D (the kind as an expression, ``kind || ''``: by the
    # kind itself SQLite would read every transaction of the kind through the (kind,
    # reference) index, not those after D through the day index)
    candidates |= {(p, c) for p, c in session.execute(
        select(LedgerTransaction.platform_code, LedgerTransaction.claim_id)
        .where(LedgerTransaction.business_day > day,
               (LedgerTransaction.kind + literal("")).in_(("approve", "disburse")),
               approved_by_then(LedgerTransaction)))}
    snapshot = Snapshot(day)
    snapshot.decisions = _decisions_of(session, candidates, day)
    snapshot.items = _items_of(session, candidates, day)
    owed = sum(amount for amount, _items in owed_by_claim(snapshot).values())
    expected = sum(figures.approved[p] - (figures.paid[p] + figures.awaiting_release[p]) + figures.returned[p]
                   for p in figures.provinces)
    return _owed_claims(snapshot if owed == expected else whole())


#: The items of a day without the bank's settled or failed answer up to D (each
#: item's answers looked up by its end-to-end id).
_UNANSWERED = """
SELECT i.province_code, i.claim_id, i.platform_code, i.amount_fen
FROM payout_item i
WHERE i.business_day = :item_day AND NOT EXISTS (
    SELECT 1 FROM bank_return b JOIN bank_return_result r ON r.bank_return_id = b.id
    WHERE b.end_to_end_id = i.end_to_end_id AND r.business_day <= :day
      AND r.result_code IN ('RETURN_SETTLED', 'RETURN_FAILED_REVERSED'))
"""


def _in_transit_too_long(session: Session, day: date, figures: Any, alert_days: int) -> list[dict[str, object]]:
    """Released items without the bank's answer for longer than ``alert_days``: read
    only from the item days whose money the totals show still in transit."""
    days = sorted({item_day for (item_day, _province), fen in figures.in_transit_by_day.items()
                   if fen > 0 and (day - item_day).days > alert_days})
    released = _released(session, day) if days else set()
    found: list[dict[str, object]] = []
    for item_day in days:
        if item_day not in released:
            continue
        found += [{"province_code": province, "claim_id": claim_id, "platform_code": platform,
                   "kind": IN_TRANSIT_TOO_LONG, "amount_fen": int(amount), "since": item_day.isoformat()}
                  for province, claim_id, platform, amount in session.execute(
                      text(_UNANSWERED).bindparams(bindparam("item_day", item_day, type_=Date),
                                                   bindparam("day", day, type_=Date)))]
    return found


def _day_answer_exceptions(session: Session, day: date) -> list[dict[str, object]]:
    """The day's bank answers the payout run could not apply."""
    found: list[dict[str, object]] = []
    for e2e, batch_id, code in session.execute(
            select(BankReturn.end_to_end_id, BankReturn.batch_id, BankReturnResult.result_code)
            .join(BankReturnResult, BankReturnResult.bank_return_id == BankReturn.id)
            .where(BankReturnResult.business_day == day, BankReturnResult.result_code.in_(sorted(_ANSWER_KINDS)))):
        known = next(iter(_item_rows(session, day, PayoutItem.end_to_end_id == e2e)), None)
        batch_province = session.scalar(select(PayoutBatch.province_code).where(
            PayoutBatch.batch_id == batch_id, PayoutBatch.business_day <= day))
        found.append({
            "province_code": known.province_code if known else (batch_province or ""),
            "claim_id": known.claim_id if known else "", "platform_code": known.platform_code if known else "",
            "kind": _ANSWER_KINDS[code], "amount_fen": known.amount_fen if known else "", "since": day.isoformat()})
    return found
