"""Histories the model-based test found that issue 12 did not name, replayed step by
step through the same state machine (its checks say what went wrong). Each is the
shortest form found, written out so that it runs every time."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import strategies as st

from tests.model.driver import PipelineEnv
from tests.model.machine import MoneyPath, Scope


class Draws:
    """What a rule's ``data.draw`` returns, in order (a replay's fixed choices)."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def draw(self, strategy: st.SearchStrategy, label: str | None = None) -> Any:
        return self.values.pop(0)


def machine(env: PipelineEnv) -> MoneyPath:
    return type("Replay", (MoneyPath,), {"env": env, "scope": Scope()})()


def test_a_payee_change_after_a_late_amendment_reopens_no_review(pipeline_env: PipelineEnv) -> None:
    """A claim under review is approved by HRSS and paid on day 3; an amendment of
    its facts arrives late in day 2's partition and the re-run of day 2 sends it to
    review again (amended after payment). A later version that changes only the
    payee must act by itself; it was decided again (standard review) because the
    decision of the re-run of day 2 is ordered behind day 3's approval, and the
    payee change was compared with the version that approval was made on."""
    m = machine(pipeline_env)
    m.new_claim(back=0, cost=45_000, kind="disputed", name="张三", prefix="a", province="110000")
    m.run_today()  # 09-01: standard review
    m.run_today()  # 09-02
    m.determine(Draws("C002"), approved=True, amount=45_000)
    m.run_today()  # 09-03: approved and paid
    m.amend_facts(Draws("C002"), change="cost", cost=99_900, back=2, prefix="a")  # late, in 09-02's partition
    m.rerun_past_day(Draws(date(2025, 9, 2)))  # loads it: amended after payment, standard review
    m.bank_answer(Draws(m.model.items()[0].end_to_end_id), status="failed")
    m.run_today()  # 09-04: the payment returned
    m.amend_payee(Draws("C002"), back=0, prefix="z")
    m.run_today()  # 09-05: a payee change only: no decision, nothing paid (the current decision pays nothing)


def test_a_claim_decided_again_by_a_re_run_of_an_earlier_day_is_paid_by_its_current_decision(
        pipeline_env: PipelineEnv) -> None:
    """Days 1-3 have run. A late claim in day 2's partition is loaded by a re-run of
    day 3 and fast-tracked (paid by the next day: day 3 is published). A later
    version in day 2's partition disputes liability; the re-run of day 2 loads it
    and, with no payout yet, decides it afresh: standard review. That decision is
    the claim's current one (made last, on its current version); day 4 paid the
    fast track's 45,000 fen all the same, because the payout takes the decision of
    the latest business day (day 3's) as current."""
    m = machine(pipeline_env)
    m.run_today()
    m.run_today()
    m.run_today()  # 09-01 to 09-03
    m.new_claim(back=2, cost=45_000, kind="eligible", name="张三", prefix="a", province="110000")  # in 09-02
    m.rerun_past_day(Draws(date(2025, 9, 3)))  # fast track, stamped 09-03
    m.amend_facts(Draws("C002"), change="disputed", cost=45_000, back=2, prefix="b")  # in 09-02, after it
    m.rerun_past_day(Draws(date(2025, 9, 2)))  # decided afresh: standard review, stamped 09-02
    m.run_today()  # 09-04: nothing is owed


def test_a_claim_fast_tracked_by_a_re_run_of_an_earlier_day_is_paid(pipeline_env: PipelineEnv) -> None:
    """The mirror of the history above: the late claim disputes liability (standard
    review by the re-run of day 3); a later version in day 2's partition no longer
    does, and the re-run of day 2 fast-tracks it. Day 4 must pay it; it paid
    nothing (day 3's standard review is taken as current) and listed no exception."""
    m = machine(pipeline_env)
    m.run_today()
    m.run_today()
    m.run_today()
    m.new_claim(back=2, cost=45_000, kind="disputed", name="张三", prefix="a", province="110000")
    m.rerun_past_day(Draws(date(2025, 9, 3)))  # standard review, stamped 09-03
    m.amend_facts(Draws("C002"), change="disputed", cost=45_000, back=2, prefix="b")  # undisputed now
    m.rerun_past_day(Draws(date(2025, 9, 2)))  # decided afresh: fast track, stamped 09-02
    m.run_today()  # 09-04: owed 45,000 fen


def test_a_re_run_decides_no_version_that_is_not_the_claims_current_one(pipeline_env: PipelineEnv) -> None:
    """Days 1 and 2 have run. A late claim (99,900 fen) in day 1's partition and an
    amendment above the authority limit in day 2's are loaded by a re-run of day 2:
    standard review. Another version in day 1's partition (45,000 fen, after the
    first in file order) is loaded by a re-run of day 1: it is not the claim's current
    version (day 2's is), so nothing is decided. The re-run of day 1 fast-tracked it,
    judging the claim by the versions loaded by runs up to day 1 only, and the
    ledger posted the approval: day 3's payout_reconciliation.csv shows 45,000 fen
    approved and owed that no decision on the current version grants."""
    m = machine(pipeline_env)
    m.run_today()
    m.run_today()  # 09-01, 09-02
    m.new_claim(back=3, cost=99_900, kind="eligible", name="李 四", prefix="Y", province="110000")  # in 09-01
    m.amend_facts(Draws("C002"), back=1, change="over_limit", cost=45_000, prefix="_")  # in 09-02
    m.rerun_past_day(Draws(date(2025, 9, 2)))  # standard review (above the limit)
    m.amend_facts(Draws("C002"), back=2, change="over_limit", cost=45_000, prefix="_")  # 45,000, in 09-01
    m.rerun_past_day(Draws(date(2025, 9, 1)))  # the current version is still day 2's: nothing to decide
