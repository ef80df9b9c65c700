"""The vectorised rules (batch.decide) give what the reference engine
(rules.evaluate) gives, claim by claim, for any facts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from claims.adjudication.batch import decide
from claims.adjudication.rules import ClaimFacts, OrderFacts, Policy, evaluate
from tests.adjudication.test_rules import BOOK, CLAIM, DOCUMENTS, ORDER

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(microseconds=1)


def frame_of(cases: list[tuple[ClaimFacts, OrderFacts | None, str | None]]) -> pd.DataFrame:
    rows = []
    for claim, order, duplicate_of in cases:
        rows.append({
            "worker_ref": claim.worker_ref, "incident_us": micros(claim.incident_at),
            "reported_us": micros(claim.reported_at), "filed_on": claim.filed_on,
            "first_filed_on": claim.first_filed_on, "incident_province_code": claim.incident_province_code,
            "treatment": claim.treatment, "inpatient_days": claim.inpatient_days,
            "medical_cost_fen": claim.medical_cost_fen, "disability_assessment": claim.disability_assessment,
            "liability_disputed": claim.liability_disputed, "documents": ";".join(claim.documents),
            "duplicate_of": duplicate_of, "order_found": order is not None,
            "order_worker_ref": order.worker_ref if order else None,
            "order_province_code": order.province_code if order else None,
            "accepted_us": micros(order.accepted_at) if order else None,
            "completed_us": micros(order.completed_at) if order and order.completed_at else None,
        })
    frame = pd.DataFrame(rows)
    frame["accepted_us"] = frame["accepted_us"].astype("float")
    frame["completed_us"] = frame["completed_us"].astype("float")
    return frame


minutes = st.integers(-120, 1500).map(lambda m: timedelta(minutes=m))
case = st.builds(
    lambda incident, reported, filed_days, first_days, province, treatment, inpatient, cost, assessment, disputed,
    documents, duplicate, has_order, same_worker, cancelled, order_province: (
        replace(CLAIM, incident_at=ORDER.accepted_at + incident, reported_at=ORDER.accepted_at + incident + reported,
                filed_on=date(2025, 9, 1) + timedelta(days=filed_days),
                first_filed_on=date(2025, 9, 1) + timedelta(days=min(first_days, filed_days)),
                incident_province_code=province, treatment=treatment, inpatient_days=inpatient,
                medical_cost_fen=cost, disability_assessment=assessment, liability_disputed=disputed,
                documents=tuple(documents)),
        (replace(ORDER, worker_ref=ORDER.worker_ref if same_worker else "someone-else",
                 completed_at=None if cancelled else ORDER.completed_at, province_code=order_province)
         if has_order else None),
        "CL-FIRST" if duplicate else None,
    ),
    minutes, st.integers(0, 60 * 24 * 40).map(lambda m: timedelta(minutes=m)), st.integers(0, 45),
    st.integers(0, 45), st.sampled_from(["110000", "460000", "310000", "650000"]),
    st.sampled_from(["outpatient", "emergency", "inpatient"]), st.integers(0, 2),
    st.sampled_from([0, 299_999, 300_000, 300_001, 5_000_000]), st.booleans(), st.booleans(),
    st.lists(st.sampled_from(DOCUMENTS + ("x-ray",)), unique=True, max_size=6), st.booleans(), st.booleans(),
    st.booleans(), st.booleans(), st.sampled_from(["110000", "460000", "510000"]),
)


@settings(max_examples=150, deadline=None)
@given(cases=st.lists(case, min_size=1, max_size=12), decided_days=st.integers(0, 60),
       grace_minutes=st.sampled_from([0, 30]))
def test_vectorised_rules_equal_the_reference_engine(cases, decided_days: int, grace_minutes: int) -> None:  # type: ignore[no-untyped-def]
    decided_on = date(2025, 9, 1) + timedelta(days=decided_days)
    policy = Policy(coverage_grace=timedelta(minutes=grace_minutes))
    batch = decide(frame_of(cases), BOOK, decided_on, policy)
    for index, (claim, order, duplicate_of) in enumerate(cases):
        reference = evaluate(claim, order, BOOK, decided_on, policy, duplicate_of)
        row = batch.iloc[index]
        assert row["outcome"] == reference.outcome
        assert row["reasons"] == ";".join(reference.reasons)
        assert row["rule_version"] == reference.rule_version
        expected_amount = reference.amount_fen
        assert (None if pd.isna(row["amount_fen"]) else int(row["amount_fen"])) == expected_amount


def test_distinct_rows_keep_none_and_give_every_row_its_code() -> None:
    import numpy as np

    from claims.adjudication.batch import distinct

    first = np.array(["a", "b", "a", None, "a"], dtype=object)
    second = np.array([date(2025, 9, 1), None, date(2025, 9, 1), None, date(2025, 9, 2)], dtype=object)
    codes, rows = distinct(first, second)
    assert [rows[code] for code in codes] == list(zip(first, second, strict=True))
    assert len(rows) == 4 and (None, None) in rows  # None stays None (not NaN) in the distinct rows
    empty_codes, empty_rows = distinct(np.array([], dtype=object))
    assert len(empty_codes) == 0 and empty_rows == []
