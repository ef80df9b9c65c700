"""The ledger refuses a transaction whose postings do not sum to zero, before it
writes anything."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.ledger.db import engine_for
from claims.ledger.models import LedgerPosting, LedgerTransaction
from claims.payouts.ledger import UnbalancedTransaction, balances, post_many


def transaction(reference: str, *postings: tuple[str, int]) -> dict:
    return {"day": date(2025, 9, 1), "kind": "approve", "reference": reference, "platform_code": "didi",
            "claim_id": "C1", "postings": list(postings)}


def test_an_unbalanced_transaction_is_refused_and_nothing_is_written(ledger_url: str) -> None:
    engine = engine_for(ledger_url)
    good = transaction("decision:1", ("benefit_expense:110000", 100), ("benefits_payable:110000", -100))
    bad = transaction("decision:2", ("benefit_expense:110000", 100), ("benefits_payable:110000", -99))
    with pytest.raises(UnbalancedTransaction, match="decision:2: postings sum to 1 fen"):
        with Session(engine) as session, session.begin():
            post_many(session, [good, bad])
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(LedgerTransaction)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(LedgerPosting)).scalar_one() == 0
    with Session(engine) as session, session.begin():
        post_many(session, [good])
    with Session(engine) as session:
        assert balances(session) == {"benefit_expense:110000": 100, "benefits_payable:110000": -100}
