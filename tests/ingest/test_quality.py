"""Great Expectations' unexpected counts equal the exact checks' rejections."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from claims.ingest import checks
from claims.ingest.quality import exact_counts, validate_with_great_expectations
from claims.reference import load_reference
from tests import factories as f

DAY = date(2025, 9, 1)
REFERENCE = load_reference()


def table(rows: list[dict[str, str]], columns: list[str]) -> pa.Table:
    return pa.table({name: pa.array([row[name] for row in rows], pa.string()) for name in columns})


def test_orders_counts_agree_on_every_field_defect() -> None:
    defects = [
        {"order_id": ""}, {"order_id": "bad id"}, {"platform_code": "uber"}, {"platform_code": "caocao"},
        {"worker_id": f.wrong_check(f.WORKER)}, {"worker_id": "123"}, {"worker_name": " "},
        {"industry": "taxi"}, {"province_code": "990000"}, {"province_code": "650000", "city_code": "650100"},
        {"city_code": "119900"}, {"status": "done"}, {"premium_fen": "1.5"}, {"premium_fen": ""},
    ]
    rows = [f.order(order_id=f"ok{i}") for i in range(30)] + [f.order(**change) for change in defects]
    frame = table(rows, checks.ORDER_COLUMNS)
    partition = checks.Partition("orders", "didi", DAY)
    result = validate_with_great_expectations("orders", partition, frame, REFERENCE)
    assert result["agrees_with_exact_checks"], result["disagreements"]
    exact = exact_counts("orders", frame, partition, REFERENCE)
    assert sum(exact.values()) >= len(defects)
    counted = {(r["field"], r["reason_code"]): r["unexpected_count"] for r in result["results"]}
    assert counted[("worker_id", "INVALID_RESIDENT_ID")] == 2
    assert counted[("province_code", "NOT_PILOT_PROVINCE")] == 1
    assert f.WORKER[:17] not in str(result)


def test_claims_counts_agree_on_every_field_defect() -> None:
    defects = [
        {"claim_id": "a b"}, {"payee_account": f.ACCOUNT[:-1] + ("0" if f.ACCOUNT[-1] != "0" else "1")},
        {"payee_bank_code": "123"}, {"disability_assessment": "yes"}, {"injury_type": "bruise"},
        {"treatment": ""}, {"inpatient_days": "-1"}, {"incident_city_code": "999900"},
    ]
    rows = [f.claim(claim_id=f"c{i}") for i in range(10)] + [f.claim(**change) for change in defects]
    frame = table(rows, checks.CLAIM_COLUMNS)
    result = validate_with_great_expectations("claims", checks.Partition("claims", "didi", DAY), frame, REFERENCE)
    assert result["agrees_with_exact_checks"], result["disagreements"]
    counted = {(r["field"], r["reason_code"]): r["unexpected_count"] for r in result["results"]}
    assert counted[("payee_account", "INVALID_BANK_ACCOUNT")] == 1
    assert f.ACCOUNT not in str(result)
