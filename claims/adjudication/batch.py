"""The fast-track rules over a whole day's claims at once (pandas/numpy).

``rules.evaluate`` decides one claim and explains it; this module applies the
same rules to many claims in a few vectorised steps, which is what lets a day of
100,000 claims be decided in seconds. A property test holds the two together:
for any claims, orders and rule sets, both give the same outcome, reasons and
rule-set version (``tests/adjudication/test_batch.py``).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from claims.adjudication.rules import (
    FAST_TRACK,
    PENDING,
    REJECTED,
    STANDARD_REVIEW,
    Policy,
    RuleBook,
    RuleSet,
)

US_PER_DAY = 86_400_000_000
SHANGHAI_US = 8 * 3600 * 1_000_000
EPOCH = date(1970, 1, 1)

#: The columns ``decide`` needs, one row per claim version to decide.
COLUMNS = (
    "worker_ref", "incident_us", "reported_us", "filed_on", "first_filed_on", "incident_province_code",
    "treatment", "inpatient_days", "medical_cost_fen", "disability_assessment", "liability_disputed",
    "documents", "duplicate_of", "order_found", "order_worker_ref", "order_province_code", "accepted_us",
    "completed_us",
)


def _days(values: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01."""
    return np.array([(value - EPOCH).days for value in values], dtype=np.int64)


def decide(frame: pd.DataFrame, book: RuleBook, decided_on: date, policy: Policy) -> pd.DataFrame:
    """Outcome, reasons (';'-joined, in the engine's order), rule set and amount for
    every row. ``completed_us`` is NaN for a cancelled order; ``duplicate_of`` is
    None unless an earlier claim of the same worker, order and incident exists."""
    n = len(frame)
    found = frame["order_found"].to_numpy(dtype=bool)
    province = np.where(found, frame["order_province_code"].fillna("").to_numpy(dtype=object),
                        frame["incident_province_code"].to_numpy(dtype=object))
    filed_on = frame["filed_on"].to_numpy(dtype=object)
    keys = pd.Series(list(zip(province, filed_on, strict=True)), dtype=object)
    chosen: dict[tuple[str, date], RuleSet] = {key: book.select(*key) for key in set(keys)}
    rule_sets = keys.map(chosen)
    versions = np.array([rule_set.rule_version for rule_set in rule_sets], dtype=object)
    names = np.array([rule_set.rule_set for rule_set in rule_sets], dtype=object)

    def param(getter):  # type: ignore[no-untyped-def]
        values = {key: getter(rule_set) for key, rule_set in chosen.items()}
        return keys.map(values).to_numpy()

    max_inpatient = param(lambda r: r.fast_track.max_inpatient_days).astype(np.int64)
    cap = param(lambda r: np.nan if r.fast_track.cost_cap_fen is None else r.fast_track.cost_cap_fen).astype(float)
    no_assessment = param(lambda r: r.fast_track.no_disability_assessment).astype(bool)
    undisputed = param(lambda r: r.fast_track.undisputed).astype(bool)
    filing_limit = param(lambda r: r.fast_track.filing_deadline_days).astype(np.int64)

    treatment = frame["treatment"].to_numpy(dtype=object)
    documents = (";" + frame["documents"].fillna("").astype(str) + ";")
    allowed = np.zeros(n, dtype=bool)
    complete = np.ones(n, dtype=bool)
    by_rule_set = pd.Series(range(n)).groupby(rule_sets.map(lambda r: r.rule_version).to_numpy())
    for _version, rows in by_rule_set:
        index = rows.to_numpy()
        rules = rule_sets.iloc[index[0]].fast_track
        allowed[index] = np.isin(treatment[index], list(rules.allowed_treatments))
        for document in rules.required_documents:
            complete[index] &= documents.iloc[index].str.contains(f";{document};", regex=False).to_numpy()

    incident = frame["incident_us"].to_numpy(dtype=np.int64)
    accepted = frame["accepted_us"].fillna(0).to_numpy(dtype=np.int64)
    completed_raw = frame["completed_us"].to_numpy(dtype=float)
    completed = np.where(np.isnan(completed_raw), accepted, np.nan_to_num(completed_raw)).astype(np.int64)
    grace = int(policy.coverage_grace.total_seconds() * 1_000_000)
    reported_day = (frame["reported_us"].to_numpy(dtype=np.int64) + SHANGHAI_US) // US_PER_DAY
    first_filed = _days(frame["first_filed_on"])
    cost = frame["medical_cost_fen"].to_numpy(dtype=np.int64)

    checks = [  # (passed, reason code) in the order rules.RULES records them
        (frame["worker_ref"].to_numpy(dtype=object) == frame["order_worker_ref"].to_numpy(dtype=object),
         "CLAIMANT_NOT_ORDER_WORKER"),
        ((accepted <= incident) & (incident <= completed + grace), "NOT_COVERED"),
        (allowed, "TREATMENT_NOT_ALLOWED"),
        (frame["inpatient_days"].to_numpy(dtype=np.int64) <= max_inpatient, "INPATIENT_STAY"),
        (np.isnan(cap) | (cost < np.nan_to_num(cap, nan=0.0)), "COST_OVER_CAP"),
        (~(no_assessment & frame["disability_assessment"].to_numpy(dtype=bool)), "DISABILITY_ASSESSMENT_REQUESTED"),
        (~(undisputed & frame["liability_disputed"].to_numpy(dtype=bool)), "LIABILITY_DISPUTED"),
        (complete, "DOCUMENTS_MISSING"),
        (frame["duplicate_of"].isna().to_numpy(), "DUPLICATE_CLAIM"),
        (first_filed - reported_day <= filing_limit, "FILED_LATE"),
    ]
    reasons = np.full(n, "", dtype=object)
    failed_any = np.zeros(n, dtype=bool)
    for passed, code in checks:
        failing = ~passed & found
        reasons = np.where(failing, reasons + ";" + code, reasons)
        failed_any |= failing
    reasons = np.array([text[1:] for text in reasons], dtype=object)

    waited = (decided_on - EPOCH).days - first_filed
    gave_up = waited >= policy.pending_max_days
    reasons = np.where(found, reasons, np.where(gave_up, "NO_ORDER_RECORD", "ORDER_NOT_LOADED"))
    same_worker = checks[0][0]
    outcome = np.where(
        ~found, np.where(gave_up, STANDARD_REVIEW, PENDING),
        np.where(~same_worker, REJECTED, np.where(failed_any, STANDARD_REVIEW, FAST_TRACK)),
    )
    amount = pd.array(np.where(outcome == FAST_TRACK, cost, 0), dtype="Int64")
    amount[outcome != FAST_TRACK] = pd.NA
    return pd.DataFrame({
        "outcome": outcome, "reasons": reasons, "rule_version": versions, "rule_set": names, "amount_fen": amount,
        "confirm_fast_track": outcome == FAST_TRACK,
    }, index=frame.index)
