"""The model-based test of the money path (issue 12, item 11): random multi-day
histories of orders, claims, amendments of facts and of payee, late files, re-runs
of past days, determinations, bank answers, replaced files and hostile names,
driven through the real pipeline and checked against a reference model of the
contract after every run (tests/model/machine.py says what is checked)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test

from tests.model.driver import PipelineEnv
from tests.model.machine import MAX_DAYS, START, MoneyPath, Scope, Violation

#: Bounded for the suite (about a minute and a half per database); derandomised, so
#: every run of the suite tries the same histories. A failing history is reported as
#: found, without shrinking (which takes minutes here): bench/model_based.py runs more
#: histories and shrinks what fails to its shortest form.
SUITE = settings(max_examples=12, stateful_step_count=12, deadline=None, derandomize=True, database=None,
                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


def machine_for(env: PipelineEnv, scope: Scope | None = None) -> type[MoneyPath]:
    return type("MoneyPathHistory", (MoneyPath,), {"env": env, "scope": scope or Scope()})


#: Histories per database in the suite: the first twelve on SQLite, the first six of
#: the same twelve (derandomised: one seed for the three) on each PostgreSQL, whose
#: part is what a server and a collation change. 24 histories, not 36: a third of the
#: model's time in the suite; `make model` runs many more on any of the three.
EXAMPLES = {"sqlite": 12, "postgresql": 6, "postgresql-icu": 6}


def test_the_money_path_holds_through_random_histories(pipeline_env: PipelineEnv,
                                                       request: pytest.FixtureRequest) -> None:
    database = request.node.callspec.params["pipeline_env"]
    run_state_machine_as_test(machine_for(pipeline_env), settings=settings(SUITE, max_examples=EXAMPLES[database]))


#: The rules a history of returns needs; the others are left out of the mutation check
#: so that it reaches a failed payment within a few histories, every time.
RETURNS_ONLY = {name: None for name in ("amend_facts", "amend_payee", "determine", "replace_file", "reuse_order_id",
                                        "rerun_past_day", "returned_and_corrected")}
QUIET = Scope(hostile_names=False, hostile_file_names=False, over_limit=False, treated_elsewhere=False,
              replaced_files=False, reused_order_ids=False, late_reruns=False)


class ReturnsMachine(MoneyPath):
    """The machine aimed at returns: every claim plain and payable, every bank answer a failure."""

    @precondition(lambda self: len(self.claim_rows) < 3 and self.today < START + timedelta(days=MAX_DAYS))
    @rule()
    def new_claim(self) -> None:  # type: ignore[override]
        MoneyPath.new_claim(self, province="110000", kind="eligible", cost=45_000, back=0, prefix="a", name="张三")

    @precondition(lambda self: self._unanswered())
    @rule(data=st.data())
    def bank_answer(self, data: st.DataObject) -> None:  # type: ignore[override]
        self._answer(data.draw(st.sampled_from(self._unanswered()), label="item"), "failed")


def test_a_planted_re_payment_to_the_account_that_failed_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    """The mutation check: with the re-payment rule broken on purpose (a returned
    payment is paid again whatever the account), the machine finds a history where
    a claim is paid again to the account that failed."""
    from claims.payouts.pipeline import Paymaster

    env = PipelineEnv.sqlite(tmp_path / "history")
    for name, value in env.variables().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(Paymaster, "_repay_returned", lambda self, session: None)
    machine = type("PlantedRepayment", (ReturnsMachine,), {"env": env, "scope": QUIET, **RETURNS_ONLY})
    with pytest.raises(Violation, match="waits for an amended account"):
        run_state_machine_as_test(machine, settings=settings(SUITE, max_examples=50, stateful_step_count=10))


def test_the_machine_aimed_at_returns_holds_without_the_planted_defect(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The same machine on the pipeline as it is: it finds nothing (so what the
    mutation check finds is the planted defect)."""
    env = PipelineEnv.sqlite(tmp_path / "history")
    for name, value in env.variables().items():
        monkeypatch.setenv(name, value)
    machine = type("Returns", (ReturnsMachine,), {"env": env, "scope": QUIET, **RETURNS_ONLY})
    run_state_machine_as_test(machine, settings=settings(SUITE, max_examples=5, stateful_step_count=10))
