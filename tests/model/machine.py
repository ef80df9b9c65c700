"""The state machine of the model-based test: random multi-day histories driven
through the real pipeline (``driver.PipelineEnv``) and, step by step, through the
reference model (``reference.MoneyModel``); after every run it checks what the
contract promises about money, rows and re-runs.

Histories are short (a handful of days, a few claims) so that a bounded run fits
in the test suite; ``bench/model_based.py`` runs longer ones.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from tests import factories as f
from tests.model.driver import PipelineEnv
from tests.model.reference import (
    BankAnswerRow,
    ClaimRow,
    DeterminationRow,
    Facts,
    Item,
    LandingFile,
    MoneyModel,
    OrderRow,
    RunOutcome,
)

START = date(2025, 9, 1)
MAX_DAYS = 7
MAX_CLAIMS = 6
COSTS = st.sampled_from([45_000, 12_345, 99_900, 250_000, 3_100])
#: File-name prefixes whose code-point order differs from a linguistic (ICU) order.
PREFIXES = ["a", "B", "_", "z", "Y"]
HOSTILE_FILE_PREFIXES = ["=", "a\t"]
NAMES = ["张三", "李 四", "O'Brien-王"]
#: a tab, a bidi override (issue 12 item 7), a formula (docs/validation-rules.md): rejected at ingestion
HOSTILE_NAMES = ["张\t三", "\u202e三张", "=HYPERLINK(1)"]
KINDS = ["eligible", "disputed", "inpatient", "over_limit", "elsewhere"]
#: Most claims are plain and payable: the money path is what the histories are about
#: (sampled_from draws uniformly, so the usual cases are listed more than once).
USUAL_KINDS = ["eligible"] * 4 + KINDS
USUAL_NAMES = NAMES * 3 + HOSTILE_NAMES
USUAL_PREFIXES = PREFIXES * 2 + HOSTILE_FILE_PREFIXES


@dataclass(frozen=True)
class Scope:
    """Which kinds of events a history may hold. Each flag turns on events that
    touch one known defect of issue 12, so that a run can look past it."""

    hostile_names: bool = True  # item 7: a name with a control character
    hostile_file_names: bool = True  # a file name with a tab or a leading '='
    over_limit: bool = True  # item 5: above the authority limit of automatic payment
    treated_elsewhere: bool = True  # item 6: Beijing-insured, treated in Hebei
    replaced_files: bool = True  # item 4: a file replaced under the same name and size
    reused_order_ids: bool = True  # item 3: an order id reused on another date
    late_reruns: bool = True  # item 2: a late file loaded by a re-run of a past day


def shown(text: str) -> str:
    """A file key as rejections.csv shows it: control characters replaced (U+FFFD)."""
    return "".join("\ufffd" if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 else c for c in text)


class Violation(AssertionError):
    """The pipeline broke a promise of the contract (the message says which)."""


class MoneyPath(RuleBasedStateMachine):
    #: set by the test before the machine runs
    env: PipelineEnv
    scope: Scope = Scope()
    #: what the histories held, over every history of the process (bench/model_based.py prints it)
    stats: Counter[str] = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.env.reset()
        self.model = MoneyModel()
        self.today = START  # the next day to run for the first time
        self.serial = 0
        self.orders: dict[str, OrderRow] = {}  # every order generated, loaded or not
        self.claim_rows: dict[str, ClaimRow] = {}  # the last row generated for each claim
        self.answered: set[str] = set()  # end-to-end ids a bank answer was dropped for
        self.determined: set[tuple[str, date]] = set()

    # ------------------------------------------------------------------ helpers
    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def _land(self, file: LandingFile) -> None:
        file.sha256 = self.env.write(file, self.orders)
        self.model.add_file(file)

    def _partition(self, back: int, earliest: date = START) -> date:
        return max(earliest, self.today - timedelta(days=back), self.today - timedelta(days=6))

    def _prefix(self, prefix: str) -> str:
        if prefix in HOSTILE_FILE_PREFIXES and not self.scope.hostile_file_names:
            return "a"
        return prefix

    def _new_order(self, partition: date, province: str) -> OrderRow:
        order = OrderRow(f"O{self._next():03d}", partition, province)
        self.orders[order.order_id] = order
        return order

    # ------------------------------------------------------------------ rules: inputs
    @precondition(lambda self: len(self.claim_rows) < MAX_CLAIMS and self.today < START + timedelta(days=MAX_DAYS))
    @rule(province=st.sampled_from(["110000", "460000"]), kind=st.sampled_from(USUAL_KINDS), cost=COSTS,
          back=st.integers(0, 3), prefix=st.sampled_from(USUAL_PREFIXES), name=st.sampled_from(USUAL_NAMES))
    def new_claim(self, province: str, kind: str, cost: int, back: int, prefix: str, name: str) -> None:
        """An order and its claim, in today's partitions or a late one."""
        if (kind == "over_limit" and not self.scope.over_limit) or (kind == "elsewhere" and not self.scope.treated_elsewhere):
            kind = "eligible"
        if name in HOSTILE_NAMES and not self.scope.hostile_names:
            name = NAMES[0]
        partition = self._partition(back)
        order = self._new_order(partition, province)
        facts = Facts(medical_cost_fen=800_000 if kind == "over_limit" else cost,
                      liability_disputed=kind == "disputed", treatment="inpatient" if kind == "inpatient" else "outpatient",
                      inpatient_days=3 if kind == "inpatient" else 0,
                      incident_province_code="130000" if kind == "elsewhere" and province == "110000" else province)
        row = ClaimRow(f"C{self._next():03d}", order.order_id, facts, f.card_number(f"62220{self.serial:013d}"), name)
        self.claim_rows[row.claim_id] = row
        prefix = self._prefix(prefix)
        self._land(LandingFile("orders", partition, f"{prefix}orders-{self.serial:03d}.csv", [order]))
        self._land(LandingFile("claims", partition, f"{prefix}claims-{self.serial:03d}.csv", [row]))

    def _amend(self, claim_id: str, row: ClaimRow, back: int, prefix: str) -> None:
        self.claim_rows[claim_id] = row
        partition = self._partition(back, earliest=self.orders[row.order_id].accepted_on)
        self._land(LandingFile("claims", partition, f"{self._prefix(prefix)}amend-{self._next():03d}.csv", [row]))

    @precondition(lambda self: self.claim_rows)
    @rule(data=st.data(), change=st.sampled_from(["cost", "disputed", "inpatient", "over_limit"]), cost=COSTS,
          back=st.integers(0, 3), prefix=st.sampled_from(PREFIXES))
    def amend_facts(self, data: st.DataObject, change: str, cost: int, back: int, prefix: str) -> None:
        """A new version of a claim that changes what it says about the injury."""
        claim_id = data.draw(st.sampled_from(sorted(self.claim_rows)), label="claim")
        row = self.claim_rows[claim_id]
        facts = row.facts
        if change == "over_limit" and not self.scope.over_limit:
            change = "cost"
        if change == "cost":
            new = Facts(cost if cost != facts.medical_cost_fen else cost + 100, facts.liability_disputed,
                        facts.treatment, facts.inpatient_days, facts.incident_province_code)
        elif change == "over_limit":
            new = Facts(800_000 if facts.medical_cost_fen != 800_000 else 45_000, facts.liability_disputed,
                        facts.treatment, facts.inpatient_days, facts.incident_province_code)
        elif change == "disputed":
            new = Facts(facts.medical_cost_fen, not facts.liability_disputed, facts.treatment, facts.inpatient_days,
                        facts.incident_province_code)
        else:
            stay = facts.treatment != "inpatient"
            new = Facts(facts.medical_cost_fen, facts.liability_disputed, "inpatient" if stay else "outpatient",
                        3 if stay else 0, facts.incident_province_code)
        self._amend(claim_id, ClaimRow(claim_id, row.order_id, new, row.payee_account, row.worker_name), back, prefix)

    @precondition(lambda self: self.claim_rows)
    @rule(data=st.data(), back=st.integers(0, 3), prefix=st.sampled_from(PREFIXES))
    def amend_payee(self, data: st.DataObject, back: int, prefix: str) -> None:
        """A new version of a claim that changes only the payee's account."""
        claim_id = data.draw(st.sampled_from(sorted(self.claim_rows)), label="claim")
        row = self.claim_rows[claim_id]
        account = f.card_number(f"62228{self._next():013d}")
        self._amend(claim_id, ClaimRow(claim_id, row.order_id, row.facts, account, row.worker_name), back, prefix)

    @precondition(lambda self: self.claim_rows)
    @rule(data=st.data(), approved=st.booleans(), amount=COSTS)
    def determine(self, data: st.DataObject, approved: bool, amount: int) -> None:
        """An HRSS determination (approving, rejecting, or raising an approval)."""
        claim_id = data.draw(st.sampled_from(sorted(self.claim_rows)), label="claim")
        if (claim_id, self.today) in self.determined:
            return  # one determination of a claim a day
        self.determined.add((claim_id, self.today))
        row = DeterminationRow(claim_id, approved, amount if approved else None)
        self._land(LandingFile("determinations", self.today, f"hrss-{self._next():03d}.csv", [row]))

    def _unanswered(self) -> list[str]:
        return sorted(item.end_to_end_id for item in self.model.items() if item.end_to_end_id not in self.answered)

    def _answer(self, e2e: str, status: str) -> None:
        self.answered.add(e2e)
        row = BankAnswerRow(e2e[:-4], e2e, status)
        self._land(LandingFile("bank_returns", self.today, f"bank-{self._next():03d}.csv", [row]))

    @precondition(lambda self: self._unanswered())
    @rule(data=st.data(), status=st.sampled_from(["settled", "failed"]))
    def bank_answer(self, data: st.DataObject, status: str) -> None:
        """The bank answers for an item paid before (settled or failed)."""
        self._answer(data.draw(st.sampled_from(self._unanswered()), label="item"), status)

    @precondition(lambda self: self._unanswered())
    @rule(data=st.data())
    def returned_and_corrected(self, data: st.DataObject) -> None:
        """The bank returns an item (failed) and the platform sends the claim's
        corrected account the same day (DOMAIN.md: paid again to a corrected account),
        in a file named to come last in its partition (the correction is current)."""
        e2e = data.draw(st.sampled_from(self._unanswered()), label="item")
        self._answer(e2e, "failed")
        claim_id = next(item.claim_id for item in self.model.items() if item.end_to_end_id == e2e)
        row = self.claim_rows[claim_id]
        account = f.card_number(f"62228{self._next():013d}")
        self._amend(claim_id, ClaimRow(claim_id, row.order_id, row.facts, account, row.worker_name), 0, "zz")

    @rule()
    def unknown_bank_answer(self) -> None:
        """An answer naming an end-to-end id that was never paid."""
        batch = f"PO{START:%Y%m%d}110000999"
        row = BankAnswerRow(batch, f"{batch}{self._next():04d}", "settled")
        self._land(LandingFile("bank_returns", self.today, f"bank-{self.serial:03d}.csv", [row]))

    def _replaceable(self) -> list[LandingFile]:
        window = self.today - timedelta(days=6)
        return [file for file in self.model.files if file.source == "claims" and file.read_by is not None
                and len(file.rows) == 1 and file.partition_date >= window and "claims-" in file.name]

    @precondition(lambda self: self.scope.replaced_files and self._replaceable())
    @rule(data=st.data(), same_claim=st.booleans())
    def replace_file(self, data: st.DataObject, same_claim: bool) -> None:
        """A claims file already read is replaced under the same name by other bytes of
        the same size (issue 12 item 4): another claim for another order, or the same
        claim with another cost of as many digits (its line was loaded from other
        bytes: a second row for that key, rejected)."""
        file = data.draw(st.sampled_from(self._replaceable()), label="file")
        old = file.rows[0]
        assert isinstance(old, ClaimRow)
        if same_claim:
            cost = old.facts.medical_cost_fen
            other = next(c for c in (cost + 1, cost - 1) if len(str(c)) == len(str(cost)))
            row = ClaimRow(old.claim_id, old.order_id, dataclasses.replace(old.facts, medical_cost_fen=other),
                           old.payee_account, old.worker_name)
        else:
            order = self._new_order(file.partition_date, self.orders[old.order_id].province_code)
            self._land(LandingFile("orders", file.partition_date, f"_orders-{self.serial:03d}.csv", [order]))
            row = ClaimRow(f"C{self._next():03d}", order.order_id, old.facts, old.payee_account, old.worker_name)
            self.claim_rows[row.claim_id] = row
        before = self.env.root / "landing" / file.key
        size = before.stat().st_size
        file.rows = [row]
        file.read_by = None
        file.generation += 1
        file.sha256 = self.env.write(file, self.orders)
        assert before.stat().st_size == size  # same name, same size, other bytes

    def _reusable(self) -> list[str]:
        return sorted(order.order_id for order in self.model.orders.values())

    @precondition(lambda self: self.scope.reused_order_ids and self._reusable() and self.today > START)
    @rule(data=st.data())
    def reuse_order_id(self, data: st.DataObject) -> None:
        """An order id already loaded arrives again on another date: rejected (item 3)."""
        order_id = data.draw(st.sampled_from(self._reusable()), label="order")
        first = self.orders[order_id]
        day = self.today if first.accepted_on != self.today else self.today - timedelta(days=1)
        row = OrderRow(order_id, day, first.province_code)
        self._land(LandingFile("orders", day, f"orders-again-{self._next():03d}.csv", [row]))

    # ------------------------------------------------------------------ rules: runs
    @precondition(lambda self: self.today < START + timedelta(days=MAX_DAYS))
    @rule()
    def run_today(self) -> None:
        """The first run of the next day."""
        day = self.today
        self.today += timedelta(days=1)
        self._run(day, first=True)

    @precondition(lambda self: self.model.days_run)
    @rule(data=st.data())
    def rerun_past_day(self, data: st.DataObject) -> None:
        """A past day run again (after later days)."""
        day = data.draw(st.sampled_from(sorted(self.model.days_run)), label="day")
        if self.model.unread(day) and not self.scope.late_reruns:
            return
        self._run(day, first=False)

    # ------------------------------------------------------------------ checks
    def _run(self, day: date, first: bool) -> None:
        loads = bool(self.model.unread(day))
        before = self.env.outputs_of(day)
        expected = self.model.run(day, first)
        self._count(expected, loads)
        result = self.env.run_day(day)
        if not first:
            self._check_rerun(day, before, self.env.outputs_of(day), loads)
        self._check_rows(expected)
        self._check_decisions(day)
        if first:
            if not self.env.manifest_exists(day):
                raise Violation(f"{day}: no manifest after the day's first run ({result})")
            self._check_payouts(expected)
        self._check_totals()

    def _count(self, expected: RunOutcome, loads: bool) -> None:
        stats = self.stats
        stats["first runs" if expected.first else "re-runs that loaded late files" if loads else "re-runs"] += 1
        stats["rows rejected"] += sum(not verdict.loaded for verdict in expected.verdicts)
        for claim_id, outcome in expected.decided:
            stats[f"decisions: {outcome}"] += 1
            claim = self.model.claims[claim_id]
            if claim.items and claim.decisions[-1].basis == "rules":
                stats["decisions after a payout"] += 1
        for owed in expected.owed.values():
            if owed.fen:
                stats["claims owed on a first run"] += 1
            if owed.why.startswith("returned"):
                stats["claims waiting for an amended account"] += 1

    def _check_rerun(self, day: date, before: dict[str, bytes], after: dict[str, bytes], loads: bool) -> None:
        """Re-running a day changes no output byte; when it loads late files, its
        published payout files and manifest still do not change."""
        if loads:
            before = {k: v for k, v in before.items() if k.startswith("payouts/")}
            after = {k: v for k, v in after.items() if k.startswith("payouts/")}
        if before != after:
            changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            raise Violation(f"re-running {day} changed its outputs: {changed}"
                            + (" (the re-run loaded late files)" if loads else ""))

    def _check_rows(self, expected: RunOutcome) -> None:
        """Every row the run read is in the ledger or in the day's rejections."""
        lines, orders = self.env.loaded_lines()
        rejected = self.env.rejections(expected.day)
        expected_orders: Counter[str] = Counter()
        for verdict in expected.verdicts:
            sha = verdict.file.sha256
            key = shown(verdict.file.key)
            if not verdict.loaded:
                if not any(source.endswith(key) and line == verdict.line for source, line in rejected):
                    what = "its bytes were received before" if verdict.line == 0 else f"line {verdict.line} ({verdict.row})"
                    raise Violation(f"{expected.day}: {key}: {what}: should be rejected with a code; it is not in "
                                    "the day's rejections")
            elif verdict.unchanged:
                continue
            elif verdict.file.source == "orders":
                expected_orders[sha] += 1
            elif verdict.line not in lines.get(sha, set()):
                codes = [code for (source, line), found in rejected.items() if source.endswith(key)
                         and line == verdict.line for code in found]
                where = f" (rejected: {', '.join(codes)})" if codes else ""
                raise Violation(f"{expected.day}: {key} line {verdict.line} ({verdict.row}) is not in the ledger{where}")
        for sha, count in expected_orders.items():
            if orders.get(sha, 0) != count:
                raise Violation(f"{expected.day}: an orders file ({sha[:12]}) has {orders.get(sha, 0)} rows loaded, "
                                f"the model {count}")

    def _check_decisions(self, day: date) -> None:
        """decisions.csv lists every decision made by the runs of the day, each once."""
        published = Counter((row["claim_id"], row["outcome"]) for row in self.env.decisions(day))
        modelled = Counter(self.model.decisions_of_day.get(day, []))
        if published != modelled:
            raise Violation(f"{day}: decisions.csv has {sorted((published - modelled).elements())} the model did not "
                            f"make and lacks {sorted((modelled - published).elements())}\n{self._history()}")

    def _check_payouts(self, expected: RunOutcome) -> None:
        """A first run pays exactly what each claim's current decision owes, to the
        current account; anything it cannot pay is listed as an exception."""
        day = expected.day
        rows = self.env.payout_rows(day)
        exceptions = self.env.payout_exceptions(day)
        paid: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            paid.setdefault(row["claim_id"], []).append(row)
        unknown = sorted(set(paid) - set(expected.owed))
        if unknown:
            raise Violation(f"{day}: paid {unknown}, which were never loaded as claims\n{self._history()}")
        for claim_id, owed in expected.owed.items():
            items = paid.get(claim_id, [])
            amount = sum(int(row["amount_fen"]) for row in items)
            accounts = {row["payee_account"] for row in items}
            problem = None
            if owed.fen == 0 and amount:
                problem = f"paid {amount} fen though nothing is owed ({owed.why})"
            elif amount > owed.fen:
                problem = f"paid {amount} fen, more than the {owed.fen} owed"
            elif owed.fen and amount != owed.fen and claim_id not in exceptions:
                problem = f"owed {owed.fen} fen, paid {amount}, and not listed as a payout exception"
            elif items and accounts != {owed.payee_account}:
                problem = f"paid to {sorted(accounts)}, not to the current version's account {owed.payee_account}"
            if problem:
                raise Violation(f"{day}: claim {claim_id} {problem}\n{self._history(claim_id)}")
        self.stats["items paid"] += len(rows)
        self.stats["re-payments after a return"] += sum(
            any(item.answer == "failed" for item in self.model.claims[row["claim_id"]].items) for row in rows)
        for row in rows:
            self.model.pay(Item(row["end_to_end_id"], row["claim_id"], int(row["amount_fen"]), row["payee_account"], day))

    def _check_totals(self) -> None:
        """Paid net of returns, and settled, never exceed the approved amount."""
        for claim_id, claim in self.model.claims.items():
            if claim.live_fen > claim.approved_ever_fen or claim.settled_fen > claim.approved_ever_fen:
                raise Violation(f"claim {claim_id}: {claim.live_fen} fen paid net of returns "
                                f"({claim.settled_fen} settled), approved {claim.approved_ever_fen}\n"
                                f"{self._history(claim_id)}")

    def _history(self, claim_id: str | None = None) -> str:
        claims = [self.model.claims[claim_id]] if claim_id in self.model.claims else list(self.model.claims.values())
        lines = []
        for claim in claims:
            lines.append(f"  {claim.claim_id} (insured in {claim.insuring_province}):")
            lines += [f"    version {v.position[0]} {v.position[1]!r}:{v.position[2]} {v.facts} account {v.payee_account}"
                      for v in sorted(claim.versions, key=lambda v: v.position)]
            lines += [f"    decision {d}" for d in claim.decisions]
            lines += [f"    item {i}" for i in claim.items]
        return "model history:\n" + "\n".join(lines)
