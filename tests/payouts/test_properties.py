"""Property: for any sequence of approvals (raises by determination), returns,
payee amendments and re-runs, no claim is ever settled, or paid and not returned,
for more than its approved amount, and no instalment has two live payments.
(Cutting an amount after payment would be an overpayment to recover: out of scope.)"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.ingest.checks import BANK_RETURN_COLUMNS, DETERMINATION_COLUMNS
from claims.ledger.db import engine_for
from claims.ledger.models import Decision, LedgerTransaction, PayoutItem
from claims.settings import load_settings
from tests import factories as f
from tests.ingest.test_pipeline import drop, drop_feed
from tests.payouts.test_pipeline import DAY, land_claims, run

CLAIMS = 3
action = st.one_of(
    st.tuples(st.just("return"), st.integers(0, CLAIMS - 1), st.sampled_from(["settled", "failed"])),
    st.tuples(st.just("amend_payee"), st.integers(0, CLAIMS - 1), st.integers(1, 9)),
    # a raise by determination: the approved amount goes up by this much (a cut after
    # payment would be an overpayment to recover, out of scope)
    st.tuples(st.just("raise"), st.integers(0, CLAIMS - 1), st.sampled_from([5000, 15000, 30000])),
    st.tuples(st.just("rerun")),
)


@contextmanager
def fresh_world():  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory(prefix="claims-property-") as folder:
        root = Path(folder)
        saved = {name: os.environ.get(name) for name in
                 ("CLAIMS_DATABASE_URL", "CLAIMS_LANDING_URL", "CLAIMS_OUTBOX_URL", "CLAIMS_LAKE_URL", "CLAIMS_GE_MAX_ROWS")}
        os.environ.update({"CLAIMS_DATABASE_URL": f"sqlite:///{root / 'claims.db'}",
                           "CLAIMS_LANDING_URL": str(root / "landing"), "CLAIMS_OUTBOX_URL": str(root / "outbox"),
                           "CLAIMS_LAKE_URL": str(root / "lake"), "CLAIMS_GE_MAX_ROWS": "0"})
        try:
            yield root
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def claim_row(index: int, account_seed: int = 0, cost: int = 45000) -> dict[str, str]:
    return f.claim(claim_id=f"C{index}", order_id=f"O{index}", medical_cost_fen=str(cost),
                   incident_at=f"{DAY}T12:20:00+08:00", reported_at=f"{DAY}T12:45:00+08:00",
                   payee_account=f.card_number(f"6222{account_seed}{index:013d}"))


def check_invariants() -> None:
    with Session(engine_for(load_settings().database_url)) as session:
        approved: dict[str, int] = {}
        for decision in session.execute(select(Decision).where(Decision.payable_fen.is_not(None))
                                        .order_by(Decision.business_day, Decision.id)).scalars():
            approved[decision.claim_id] = int(decision.payable_fen or 0)
        settled_refs = {ref[5:] for (ref,) in session.execute(
            select(LedgerTransaction.reference).where(LedgerTransaction.kind == "settle"))}
        settled: dict[str, int] = defaultdict(int)
        live: dict[str, int] = defaultdict(int)
        instalments: dict[tuple[str, int], int] = defaultdict(int)
        for item in session.execute(select(PayoutItem)).scalars():
            if item.end_to_end_id in settled_refs:
                settled[item.claim_id] += item.amount_fen
            if item.returned_on is None:
                live[item.claim_id] += item.amount_fen
                instalments[(item.claim_id, item.instalment)] += 1
    for claim_id in set(settled) | set(live):
        assert settled[claim_id] <= approved[claim_id], (claim_id, settled[claim_id], approved[claim_id])
        assert live[claim_id] <= approved[claim_id], (claim_id, live[claim_id], approved[claim_id])
    assert all(count == 1 for count in instalments.values()), instalments


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=1, max_size=4))
def test_no_claim_is_ever_paid_more_than_approved(actions: list[tuple]) -> None:
    with fresh_world() as root:
        land_claims(root, DAY, CLAIMS)
        run(DAY)
        check_invariants()
        day = DAY
        approved = dict.fromkeys(range(CLAIMS), 45000)  # claim_row's cost, fast-tracked
        for step in actions:
            if step[0] != "rerun":
                day += timedelta(days=1)
            if step[0] == "return":
                with Session(engine_for(load_settings().database_url)) as session:
                    item = session.execute(
                        select(PayoutItem).where(PayoutItem.claim_id == f"C{step[1]}", PayoutItem.returned_on.is_(None))
                        .order_by(PayoutItem.id.desc()).limit(1)
                    ).scalar_one_or_none()
                if item is not None:
                    answer = {"batch_id": item.batch_id, "end_to_end_id": item.end_to_end_id, "status": step[2],
                              "failure_code": "AC04" if step[2] == "failed" else "", "failure_reason": "",
                              "processed_at": f"{day}T09:00:00+08:00"}
                    drop_feed(root, "bank_returns", day, "bank.csv", f.csv_text([answer], BANK_RETURN_COLUMNS).encode())
            elif step[0] == "amend_payee":
                drop(root, "claims", "didi", day, "payee.csv", f.csv_text([claim_row(step[1], step[2])]).encode())
            elif step[0] == "raise":
                approved[step[1]] += step[2]
                amount = approved[step[1]]
                drop(root, "claims", "didi", day, "amend.csv",
                     f.csv_text([claim_row(step[1], cost=amount + 1)]).encode())
                drop_feed(root, "determinations", day + timedelta(days=1), "d.csv", f.csv_text([{
                    "claim_id": f"C{step[1]}", "platform_code": "didi", "decision": "approved",
                    "approved_amount_fen": str(amount), "reason": "", "decided_at": f"{day + timedelta(days=1)}T10:00:00+08:00",
                    "decided_by": "HRSS"}], DETERMINATION_COLUMNS).encode())
                run(day)
                check_invariants()
                day += timedelta(days=1)
            run(day)
            check_invariants()

