"""Reconciliation for finance (CONTRACT.md, Reports): premiums against the
platforms' declarations, and payouts against the ledger's own accounts.

A premium difference is a business finding: it is reported. A payout tie-out
that does not hold is a system fault: the caller fails after writing the files.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from claims.reports.snapshot import ClaimKey, ItemRow, Snapshot, sets_approval

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
    for item in snapshot.items:
        if not item.released or item.end_to_end_id in answered:
            continue
        if (day - item.business_day).days > in_transit_alert_days:
            found.append({"province_code": item.province_code, "claim_id": item.claim_id,
                          "platform_code": item.platform_code, "kind": IN_TRANSIT_TOO_LONG,
                          "amount_fen": item.amount_fen, "since": item.business_day.isoformat()})
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
