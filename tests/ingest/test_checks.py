"""Every row rule of docs/validation-rules.md, one change at a time."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.iso7064 import mod_11_2

from claims.ingest import checks
from claims.reference import load_reference
from tests import factories as f

DAY = date(2025, 9, 1)
REFERENCE = load_reference()


def verdicts_for(source: str, *rows: dict[str, str], platform: str = "didi", day: date = DAY) -> checks.Verdicts:
    columns = checks.ORDER_COLUMNS if source == "orders" else checks.CLAIM_COLUMNS
    table = pa.table({name: pa.array([row[name] for row in rows], pa.string()) for name in columns})
    check = checks.check_orders if source == "orders" else checks.check_claims
    return check(table, checks.Partition(source, platform, day), REFERENCE)


def failures(source: str, row: dict[str, str], **kwargs) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(failure.field, failure.code) for failure in verdicts_for(source, row, **kwargs).failures}


def test_valid_order_and_claim_pass() -> None:
    assert failures("orders", f.order()) == set()
    assert failures("claims", f.claim()) == set()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"order_id": ""}, {("order_id", "MISSING_VALUE")}),
        ({"order_id": "has space"}, {("order_id", "INVALID_IDENTIFIER")}),
        ({"order_id": "x" * 65}, {("order_id", "INVALID_IDENTIFIER")}),
        ({"platform_code": "uber"}, {("platform_code", "UNKNOWN_PLATFORM")}),
        ({"platform_code": "caocao"}, {("platform_code", "PLATFORM_MISMATCH")}),
        ({"platform_code": "meituan"}, {("platform_code", "PLATFORM_MISMATCH"), ("industry", "INDUSTRY_MISMATCH")}),
        ({"worker_id": f.wrong_check(f.WORKER)}, {("worker_id", "INVALID_RESIDENT_ID")}),
        ({"worker_id": f.resident_id("11010519900230123")}, {("worker_id", "INVALID_RESIDENT_ID")}),  # 30 Feb
        ({"worker_id": f.resident_id("99010519900307123")}, {("worker_id", "INVALID_RESIDENT_ID")}),  # no province 99
        ({"worker_id": f.resident_id("11010520300307123")}, {("worker_id", "INVALID_RESIDENT_ID")}),  # born later
        ({"worker_id": f.WORKER[:17]}, {("worker_id", "INVALID_RESIDENT_ID")}),
        ({"worker_id": f.WORKER[:16] + "x" + f.WORKER[17]}, {("worker_id", "INVALID_RESIDENT_ID")}),  # x not last
        ({"worker_name": "   "}, {("worker_name", "MISSING_VALUE")}),
        ({"industry": "taxi"}, {("industry", "UNKNOWN_CODE")}),
        ({"industry": "freight"}, {("industry", "INDUSTRY_MISMATCH")}),
        ({"province_code": "990000"}, {("province_code", "INVALID_AREA_CODE")}),
        ({"province_code": "650000", "city_code": "650100"}, {("province_code", "NOT_PILOT_PROVINCE")}),
        ({"city_code": "119900"}, {("city_code", "INVALID_AREA_CODE")}),
        ({"city_code": "310100"}, {("city_code", "CITY_NOT_IN_PROVINCE")}),
        ({"accepted_at": "yesterday"}, {("accepted_at", "INVALID_TIMESTAMP")}),
        ({"accepted_at": "2025-09-02T00:00:00+08:00", "completed_at": "2025-09-02T00:10:00+08:00"},
         {("accepted_at", "OUTSIDE_PARTITION")}),
        ({"accepted_at": "2025-08-31T15:59:59Z", "completed_at": ""  , "status": "cancelled"},
         {("accepted_at", "OUTSIDE_PARTITION")}),
        ({"status": "done"}, {("status", "UNKNOWN_CODE")}),
        ({"completed_at": ""}, {("completed_at", "STATUS_MISMATCH")}),
        ({"status": "cancelled"}, {("completed_at", "STATUS_MISMATCH")}),
        ({"completed_at": "2025-09-01T11:59:59+08:00"}, {("completed_at", "TIME_ORDER")}),
        ({"completed_at": "2025-09-02T12:00:01+08:00"}, {("completed_at", "DURATION_TOO_LONG")}),
        ({"completed_at": "2025-09-31T12:00:00+08:00"}, {("completed_at", "INVALID_TIMESTAMP")}),
        ({"premium_fen": "-1"}, {("premium_fen", "INVALID_INTEGER")}),
        ({"premium_fen": "1.0"}, {("premium_fen", "INVALID_INTEGER")}),
        ({"premium_fen": ""}, {("premium_fen", "MISSING_VALUE")}),
    ],
)
def test_order_rules(change: dict[str, str], expected: set[tuple[str, str]]) -> None:
    assert failures("orders", f.order(**change)) == expected


@pytest.mark.parametrize(
    "change",
    [
        {"worker_id": f.HK_WORKER},  # Hong Kong residence permit
        {"worker_id": f.resident_id("83000019880815004")},  # Taiwan residence permit
        {"worker_id": f.ABOLISHED_COUNTY_WORKER},  # county code retired, ID still valid
        {"worker_id": f.resident_id("11010519900307123")},
        {"status": "cancelled", "completed_at": ""},  # cancelled orders are insured too
        {"accepted_at": "2025-09-01 12:00:00", "completed_at": "2025-09-01 12:30:00"},  # no offset: Shanghai
        {"accepted_at": "2025-09-01T04:00:00Z", "completed_at": "2025-09-01T04:30:00.250Z"},
        {"accepted_at": "2025-09-01T00:00:00+08:00"},  # the partition's first second
        {"accepted_at": "2025-08-31T16:00:00Z"},  # the same instant in UTC
        {"completed_at": "2025-09-02T12:00:00+08:00"},  # exactly 24 hours
        {"completed_at": "2025-09-01T12:00:00+08:00"},  # completed at acceptance
        {"premium_fen": "999"},  # a premium that differs from the rate is loaded (and flagged)
    ],
)
def test_valid_oddities_pass(change: dict[str, str]) -> None:
    assert failures("orders", f.order(**change)) == set()


def test_x_check_character_is_valid() -> None:
    body = next(b for b in (f"11010519900307{i:03d}" for i in range(1000)) if mod_11_2.calc_check_digit(b) == "X")
    assert failures("orders", f.order(worker_id=body + "X")) == set()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"claim_id": ""}, {("claim_id", "MISSING_VALUE")}),
        ({"order_id": "a/b"}, {("order_id", "INVALID_IDENTIFIER")}),
        ({"incident_at": "2025-09-02T00:00:00+08:00", "reported_at": "2025-09-02T00:10:00+08:00"},
         {("incident_at", "OUTSIDE_PARTITION"), ("reported_at", "OUTSIDE_PARTITION")}),
        ({"reported_at": "2025-09-01T12:19:59+08:00"}, {("reported_at", "TIME_ORDER")}),
        ({"incident_province_code": "1100"}, {("incident_province_code", "INVALID_AREA_CODE")}),
        ({"incident_city_code": "440300"}, {("incident_city_code", "CITY_NOT_IN_PROVINCE")}),
        ({"injury_type": "bruise"}, {("injury_type", "UNKNOWN_CODE")}),
        ({"treatment": "home"}, {("treatment", "UNKNOWN_CODE")}),
        ({"inpatient_days": "two"}, {("inpatient_days", "INVALID_INTEGER")}),
        ({"medical_cost_fen": "450.00"}, {("medical_cost_fen", "INVALID_INTEGER")}),
        ({"disability_assessment": "yes"}, {("disability_assessment", "INVALID_BOOLEAN")}),
        ({"liability_disputed": "TRUE"}, {("liability_disputed", "INVALID_BOOLEAN")}),
        ({"payee_account": f.ACCOUNT[:-1] + str((int(f.ACCOUNT[-1]) + 1) % 10)}, {("payee_account", "INVALID_BANK_ACCOUNT")}),
        ({"payee_account": f.card_number("12345678901234")}, {("payee_account", "INVALID_BANK_ACCOUNT")}),  # 15 digits
        ({"payee_bank_code": "10210009999"}, {("payee_bank_code", "INVALID_BANK_CODE")}),
        ({"worker_name": ""}, {("worker_name", "MISSING_VALUE")}),
    ],
)
def test_claim_rules(change: dict[str, str], expected: set[tuple[str, str]]) -> None:
    assert failures("claims", f.claim(**change)) == expected


def test_claim_oddities_pass() -> None:
    assert failures("claims", f.claim(documents="")) == set()  # documents may be empty
    assert failures("claims", f.claim(documents="application_form;x-ray")) == set()  # others allowed
    assert failures("claims", f.claim(incident_province_code="650000", incident_city_code="650100")) == set()
    assert failures("claims", f.claim(payee_account=f.card_number("622202123456789"))) == set()  # 16 digits


def test_one_row_gets_every_failure_and_the_others_stand() -> None:
    bad = f.order(order_id="A B", worker_id=f.wrong_check(f.WORKER), premium_fen="x")
    verdicts = verdicts_for("orders", f.order(order_id="ok-1"), bad, f.order(order_id="ok-2"))
    assert verdicts.rejected().tolist() == [False, True, False]
    assert {(x.field, x.code) for x in verdicts.failures} == {
        ("order_id", "INVALID_IDENTIFIER"), ("worker_id", "INVALID_RESIDENT_ID"), ("premium_fen", "INVALID_INTEGER"),
    }


def test_timestamps_parse_to_utc_microseconds() -> None:
    column = pa.chunked_array([[
        "2025-09-01T12:00:00+08:00", "2025-09-01 12:00:00", "2025-09-01T04:00:00Z",
        "2025-09-01T04:00:00.5+0000", "2025-09-01T09:30:00+05:30", "2025-02-30T00:00:00", "2025-09-01",
        "2025-09-01T24:00:00", "2025-09-01T12:00:00+25:00", "2025-09-01T12:00+08:00", "2025-09-01T12:00.5",
    ]])
    valid, values = checks.parse_timestamps(column)
    noon = checks.day_start_us(DAY) + 12 * 3600 * 1_000_000
    assert valid.tolist() == [True, True, True, True, True, False, False, False, False, True, False]
    assert values[:5].tolist() == [noon, noon, noon, noon + 500_000, noon]
    assert values[9] == noon


digits = st.text(alphabet="0123456789", min_size=17, max_size=17)


@settings(max_examples=300, deadline=None)
@given(body=digits, check=st.sampled_from("0123456789X"))
def test_resident_id_checksum_agrees_with_stdnum(body: str, check: str) -> None:
    value = body + check
    ours = checks.resident_id_valid(pa.chunked_array([[value]]), set(REFERENCE.provinces), DAY)[0]
    province_ok = body[:2] + "0000" in REFERENCE.provinces or body[:2] in ("81", "82", "83")
    year, month, day = int(body[6:10]), int(body[10:12]), int(body[12:14])
    try:
        born = date(year, month, day)
        date_ok = date(1900, 1, 1) <= born <= DAY
    except ValueError:
        date_ok = False
    expected = mod_11_2.is_valid(value) and province_ok and date_ok
    assert bool(ours) == expected


@settings(max_examples=300, deadline=None)
@given(number=st.text(alphabet="0123456789", min_size=14, max_size=21))
def test_luhn_agrees_with_stdnum(number: str) -> None:
    ours = checks.luhn_valid(pa.chunked_array([[number]]))[0]
    assert bool(ours) == (16 <= len(number) <= 19 and luhn.is_valid(number))


def test_checks_are_vectorised_over_many_rows() -> None:
    rows = [f.order(order_id=f"o{i}") for i in range(2000)]
    rows[1234] = f.order(order_id="o1234", worker_id=f.wrong_check(f.WORKER))
    verdicts = verdicts_for("orders", *rows)
    assert np.flatnonzero(verdicts.rejected()).tolist() == [1234]


timestamp_text = st.builds(
    lambda y, mo, d, h, mi, s, frac, sep, off: (
        f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}" + ("" if s is None else f":{s:02d}{frac}") + off
    ),
    st.integers(1990, 2035), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 61),
    st.sampled_from([0, 59, 60, None]), st.sampled_from(["", ".5", ".123456", ".1234567", ".123456789"]),
    st.sampled_from(["T", " ", "t"]),
    st.sampled_from(["", "Z", "+08:00", "+0800", "-05:30", "+14:00", "+15:00", "+08", "+08:60"]),
)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(timestamp_text, min_size=1, max_size=8))
def test_fast_timestamp_path_agrees_with_the_exact_path(values: list[str]) -> None:
    column = pa.chunked_array([values])
    fast_valid, fast_values = checks.parse_timestamps(column)
    exact_valid, exact_values = checks.parse_timestamps_exact(column)
    assert fast_valid.tolist() == exact_valid.tolist()
    assert fast_values[fast_valid].tolist() == exact_values[exact_valid].tolist()
