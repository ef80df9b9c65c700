"""Tests of the Great Expectations layer (validations/): custom expectations,
suites, the sample-free runner and the Data Docs it writes.

Needs nothing but the project's venv: GE runs in an in-memory context.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import pathlib
import subprocess
import sys

import pandas as pd
import pytest
from stdnum import luhn
from stdnum.cn import ric
from stdnum.iso7064 import mod_11_2

from claims.reasons import REASONS
from validations import runner, suites
from validations.expectations import (
    ExpectColumnValuesToBeLuhnValidCardNumbers,
    ExpectColumnValuesToBeResidentIds,
    is_luhn_card_number,
    is_resident_id,
    province_prefixes,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]

D = dt.date(2025, 7, 1)
PLATFORMS = {
    "didi": "ride_hailing",
    "caocao": "ride_hailing",
    "meituan": "instant_delivery",
    "eleme": "instant_delivery",
    "huolala": "freight",
}
PROVINCES = {"110000", "120000", "130000", "310000", "320000", "410000", "440000", "710000", "810000", "820000"}
PILOTS = {"110000", "120000", "130000", "310000", "320000", "440000"}
PREFECTURES = {"110100", "120100", "130100", "130200", "310100", "320100", "320200", "410100", "440100", "440300"}

PREFIXES = province_prefixes(PROVINCES | {"830000"})


def rid(area: str, birth: str, seq: str = "123") -> str:
    """A resident ID with a correct MOD 11-2 check character."""
    body = area + birth + seq
    assert len(body) == 17
    return body + mod_11_2.calc_check_digit(body)


def wrong_check(number: str) -> str:
    """The same ID with a wrong check character."""
    good = number[-1]
    return number[:-1] + ("0" if good != "0" else "1")


def card(prefix: str, length: int) -> str:
    """A Luhn-valid card number of the given length."""
    body = (prefix + "0123456789" * 2)[: length - 1]
    return body + luhn.calc_check_digit(body)


def bad_luhn(number: str) -> str:
    last = int(number[-1])
    return number[:-1] + str((last + 1) % 10)


def _is_rid(value) -> bool:
    return is_resident_id(value, PREFIXES, "19000101", D.strftime("%Y%m%d"))


# ---------------------------------------------------------------------------
# Resident IDs
# ---------------------------------------------------------------------------

HK_PERMIT = rid("810000", "19900307")
MACAU_PERMIT = rid("820000", "19851111")
TAIWAN_PERMIT = rid("830000", "19700101")
# Beijing Chongwen district (110103) was abolished in 2010: stdnum refuses it
# for anyone born after that, the spec does not check the county part.
ABOLISHED_COUNTY = rid("110103", "20120307")
ORDINARY = rid("110105", "19900307")
WITH_X = next(
    number for number in (rid("320102", "19881231", f"{seq:03d}") for seq in range(200)) if number.endswith("X")
)


def test_stdnum_ric_would_reject_the_ids_we_must_accept():
    # The reason stdnum.cn.ric is not used: these are valid for us.
    for number in (HK_PERMIT, MACAU_PERMIT, TAIWAN_PERMIT, ABOLISHED_COUNTY):
        assert mod_11_2.is_valid(number)
        assert not ric.is_valid(number), number


@pytest.mark.parametrize(
    "number",
    [HK_PERMIT, MACAU_PERMIT, TAIWAN_PERMIT, ABOLISHED_COUNTY, ORDINARY, WITH_X, WITH_X[:-1] + "x"],  # x is X
    ids=str,
)
def test_resident_id_accepted(number):
    assert _is_rid(number)


@pytest.mark.parametrize(
    "number, why",
    [
        (wrong_check(ORDINARY), "wrong check digit"),
        (wrong_check(WITH_X), "X where a digit belongs"),
        (wrong_check(HK_PERMIT), "wrong check digit on a permit"),
        (rid("110105", "19990230"), "19990230 is not a date"),
        (rid("110105", "19991301"), "month 13"),
        (rid("110105", "18991231"), "born before 1900"),
        (rid("110105", "20250702"), "born after the partition date"),
        (rid("990000", "19900307"), "99 is not a province"),
        (rid("510000", "19900307"), "51 is not in the given province set"),
        ("1101051990X3071234", "X in the wrong place"),
        ("X10105199003071234", "X in the wrong place"),
        (ORDINARY[:-1], "17 characters"),
        (ORDINARY + "1", "19 characters"),
        (" " + ORDINARY[1:], "a space"),
        ("１" + ORDINARY[1:], "a full-width digit"),
        (ORDINARY + "\n", "trailing newline"),
        ("", "empty string"),
        (110105199003071234, "not text"),
    ],
)
def test_resident_id_rejected(number, why):
    assert not _is_rid(number), why


def test_x_in_the_wrong_place_has_a_valid_checksum_but_is_rejected():
    # mod_11_2 treats 'X' as 10 anywhere, so the regex is what rejects it.
    body = "11010519900307123"
    for position in range(17):
        candidate = body[:position] + "X" + body[position + 1 :]
        number = candidate + mod_11_2.calc_check_digit(candidate)
        assert mod_11_2.is_valid(number)
        assert not _is_rid(number)


def test_province_prefixes_accepts_prefixes_and_codes():
    assert province_prefixes(["11", "310000"]) == frozenset({"11", "31"})
    with pytest.raises(ValueError):
        province_prefixes(["110100"])  # a prefecture, not a province
    with pytest.raises(ValueError):
        province_prefixes(["1"])


# ---------------------------------------------------------------------------
# Card numbers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", [16, 17, 18, 19])
def test_luhn_valid_lengths_accepted(length):
    number = card("6222", length)
    assert len(number) == length and luhn.is_valid(number)
    assert is_luhn_card_number(number)
    assert not is_luhn_card_number(bad_luhn(number))


@pytest.mark.parametrize("length", [12, 15, 20, 21])
def test_luhn_valid_but_wrong_length_rejected(length):
    number = card("6222", length)
    assert luhn.is_valid(number)
    assert not is_luhn_card_number(number)


@pytest.mark.parametrize(
    "value", ["6222 0212 3456 7890", "622202123456789O", "６２２２０２１２３４５６７８９０", "", None, 6222021234567890123]
)
def test_card_number_garbage_rejected(value):
    assert not is_luhn_card_number(value)


# ---------------------------------------------------------------------------
# The custom expectations inside GE
# ---------------------------------------------------------------------------


def _single(expectation, column, values):
    suite = gx_suite("test.single", [expectation])
    frame = pd.DataFrame({column: values}, dtype=object)
    return runner.validate_frame("single.csv", frame, suite)["results"][0]


def gx_suite(name, expectations):
    import great_expectations as gx

    return gx.ExpectationSuite(name=name, expectations=expectations)


def test_resident_id_expectation_in_ge():
    values = [
        HK_PERMIT,
        ABOLISHED_COUNTY,
        ORDINARY,
        WITH_X,
        None,  # not tested: MISSING_VALUE is the not-null expectation's
        wrong_check(ORDINARY),
        rid("110105", "19990230"),
        "1101051990X3071234",
        rid("110105", "20250702"),
    ]
    result = _single(
        ExpectColumnValuesToBeResidentIds(
            column="worker_id",
            province_codes=sorted(PROVINCES | {"830000"}),
            max_birth_date=D,
            meta={"field": "worker_id", "reason_code": "INVALID_RESIDENT_ID"},
        ),
        "worker_id",
        values,
    )
    assert result["raised_exception"] is False
    assert result["element_count"] == 9
    assert result["unexpected_count"] == 4
    assert result["success"] is False
    assert result["kwargs"]["max_birth_date"] == "2025-07-01"


def test_resident_id_expectation_parameters_are_checked():
    with pytest.raises(ValueError):  # pydantic's ValidationError
        ExpectColumnValuesToBeResidentIds(column="worker_id", province_codes=["110100"], max_birth_date="2025-07-01")
    with pytest.raises(ValueError):
        ExpectColumnValuesToBeResidentIds(column="worker_id", province_codes=["11"], max_birth_date="20250701")


def test_luhn_expectation_in_ge():
    values = [card("6222", 16), card("6217", 19), None, card("6222", 15), card("6222", 20), bad_luhn(card("6222", 18))]
    result = _single(ExpectColumnValuesToBeLuhnValidCardNumbers(column="payee_account"), "payee_account", values)
    assert (result["element_count"], result["unexpected_count"]) == (6, 3)


def test_custom_expectations_are_registered_and_survive_the_suite_store():
    from great_expectations.expectations.registry import get_expectation_impl

    assert get_expectation_impl("expect_column_values_to_be_resident_ids") is ExpectColumnValuesToBeResidentIds
    assert (
        get_expectation_impl("expect_column_values_to_be_luhn_valid_card_numbers")
        is ExpectColumnValuesToBeLuhnValidCardNumbers
    )
    context = runner.get_context()
    suite = suites.claims_suite(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    context.suites.add_or_update(suite)
    stored = context.suites.get(suite.name)
    kinds = {type(e) for e in stored.expectations}
    assert ExpectColumnValuesToBeResidentIds in kinds
    assert ExpectColumnValuesToBeLuhnValidCardNumbers in kinds


# ---------------------------------------------------------------------------
# Suites
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("build", [suites.orders_suite, suites.claims_suite])
def test_every_expectation_names_its_field_and_a_registered_reason(build):
    suite = build(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    assert suite.expectations
    for expectation in suite.expectations:
        meta = expectation.meta
        assert meta["field"] == expectation.column
        assert meta["reason_code"] in REASONS
        assert REASONS[meta["reason_code"]].scope == "row"


def test_suite_arguments_are_checked():
    with pytest.raises(TypeError):
        suites.orders_suite(dt.datetime(2025, 7, 1), "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    with pytest.raises(ValueError):
        suites.orders_suite(D, "didi", PLATFORMS, {"11"}, PILOTS, PREFECTURES)


def test_suites_do_not_need_a_ge_context():
    code = (
        "import datetime as dt\n"
        "from validations import suites\n"
        "s = suites.orders_suite(dt.date(2025, 7, 1), 'didi', {'didi': 'ride_hailing'}, {'110000'}, {'110000'}, {'110100'})\n"
        "assert len(s.expectations) > 10\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_importing_the_package_does_not_import_ge():
    code = "import sys, validations; assert 'great_expectations' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---------------------------------------------------------------------------
# Orders frame with known defects
# ---------------------------------------------------------------------------

ORDER_COLUMNS = [
    "order_id",
    "platform_code",
    "worker_id",
    "worker_name",
    "industry",
    "province_code",
    "city_code",
    "accepted_at",
    "completed_at",
    "status",
    "premium_fen",
]

NAMES = ["Qiu Ruoxian", "Yan Shuzhen", "欧阳明远", "Tong Haoyu", "司马静怡"]


def _order(n: int, **changes) -> dict:
    row = {
        "order_id": f"ord-{n:05d}",
        "platform_code": "didi",
        "worker_id": rid("110105", f"19{60 + n % 40:02d}0{1 + n % 9}1{n % 9}", f"{n % 1000:03d}"),
        "worker_name": NAMES[n % len(NAMES)],
        "industry": "ride_hailing",
        "province_code": "110000",
        "city_code": "110100",
        "accepted_at": "2025-07-01T08:00:00+08:00",
        "completed_at": "2025-07-01T08:40:00+08:00",
        "status": "completed",
        "premium_fen": "1",
    }
    row.update(changes)
    return row


def defective_orders() -> tuple[pd.DataFrame, dict[tuple[str, str], int]]:
    rows = [
        _order(0, worker_id=HK_PERMIT),
        _order(1, worker_id=ABOLISHED_COUNTY),
        _order(2, worker_id=TAIWAN_PERMIT, province_code="320000", city_code="320200"),
        _order(3, worker_id=WITH_X, status="cancelled", completed_at=None),
        # order_id
        _order(4, order_id=None),
        _order(5, order_id="bad id!"),
        _order(6, order_id="a" * 65),
        _order(7, order_id="ord-7\n"),
        # platform_code: unknown is not also a mismatch
        _order(8, platform_code="uber"),
        _order(9, platform_code="meituan", industry="instant_delivery"),
        _order(10, platform_code=None),
        # worker_id
        _order(11, worker_id=None),
        _order(12, worker_id=wrong_check(ORDINARY)),
        _order(13, worker_id=rid("110105", "19990230")),
        _order(14, worker_id="1101051990X3071234"),
        _order(15, worker_id=rid("110105", "20250702")),
        # worker_name: empty after trimming
        _order(16, worker_name=None),
        _order(17, worker_name="   "),
        _order(18, worker_name="\u3000"),
        # industry
        _order(19, industry="taxi"),
        _order(20, industry=None),
        # province_code: invalid is not also "not a pilot"
        _order(21, province_code="990000"),
        _order(22, province_code="410000", city_code="410100"),
        _order(23, province_code=None),
        # city_code
        _order(24, city_code="110199"),
        _order(25, city_code=None),
        # accepted_at: only MISSING_VALUE is GE's
        _order(26, accepted_at=None),
        _order(27, accepted_at="yesterday"),  # INVALID_TIMESTAMP: ingestion only
        # status
        _order(28, status="done"),
        _order(29, status=None),
        # premium_fen
        _order(30, premium_fen="-1"),
        _order(31, premium_fen="1.0"),
        _order(32, premium_fen="１"),
        _order(33, premium_fen=None),
        # one row, several fields
        _order(34, order_id=None, worker_id=wrong_check(HK_PERMIT), status="done", premium_fen="x"),
    ]
    expected = {
        ("order_id", "MISSING_VALUE"): 2,
        ("order_id", "INVALID_IDENTIFIER"): 3,
        ("platform_code", "MISSING_VALUE"): 1,
        ("platform_code", "UNKNOWN_PLATFORM"): 1,
        ("platform_code", "PLATFORM_MISMATCH"): 1,
        ("worker_id", "MISSING_VALUE"): 1,
        ("worker_id", "INVALID_RESIDENT_ID"): 5,
        ("worker_name", "MISSING_VALUE"): 3,
        ("industry", "MISSING_VALUE"): 1,
        ("industry", "UNKNOWN_CODE"): 1,
        ("province_code", "MISSING_VALUE"): 1,
        ("province_code", "INVALID_AREA_CODE"): 1,
        ("province_code", "NOT_PILOT_PROVINCE"): 1,
        ("city_code", "MISSING_VALUE"): 1,
        ("city_code", "INVALID_AREA_CODE"): 1,
        ("accepted_at", "MISSING_VALUE"): 1,
        ("status", "MISSING_VALUE"): 1,
        ("status", "UNKNOWN_CODE"): 2,
        ("premium_fen", "MISSING_VALUE"): 1,
        ("premium_fen", "INVALID_INTEGER"): 4,
    }
    return pd.DataFrame(rows, columns=ORDER_COLUMNS, dtype=object), expected


@pytest.fixture(scope="module")
def orders_run():
    frame, expected = defective_orders()
    suite = suites.orders_suite(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    return frame, expected, runner.validate_frame("orders/platform=didi/date=2025-07-01/part-1.csv", frame, suite)


def test_orders_unexpected_counts_per_reason(orders_run):
    frame, expected, result = orders_run
    assert runner.unexpected_counts(result) == expected
    assert result["success"] is False
    assert all(entry["element_count"] == len(frame) for entry in result["results"])
    assert result["statistics"]["evaluated_expectations"] == len(result["results"])


@pytest.mark.parametrize("dtype", [object, "str"])
def test_orders_counts_do_not_depend_on_the_string_dtype(dtype):
    frame, expected = defective_orders()
    frame = frame.astype(dtype)
    suite = suites.orders_suite(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    result = runner.validate_frame("orders.csv", frame, suite)
    assert runner.unexpected_counts(result) == expected


def test_frame_from_arrow_turns_empty_strings_into_nulls():
    import pyarrow as pa

    frame, expected = defective_orders()
    # The ingestion's tables: all strings, empty fields as "" (never null).
    table = pa.table({name: pa.array([v if v is not None else "" for v in frame[name]], pa.string()) for name in frame})
    converted = runner.frame_from_arrow(table)
    assert converted["order_id"].isna().sum() == 2
    assert converted["worker_name"].isna().sum() == 1  # "   " stays text: the \S expectation's
    suite = suites.orders_suite(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    result = runner.validate_frame("orders.parquet", converted, suite)
    assert runner.unexpected_counts(result) == expected


def test_clean_orders_pass_and_reruns_are_stable():
    frame = pd.DataFrame([_order(n) for n in range(50)], columns=ORDER_COLUMNS, dtype=object)
    suite = suites.orders_suite(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    first = runner.validate_frame("clean.csv", frame, suite)
    second = runner.validate_frame("clean.csv", frame, suite)
    assert first["success"] is True
    assert set(runner.unexpected_counts(first).values()) == {0}
    assert runner.unexpected_counts(first) == runner.unexpected_counts(second)


def test_all_provinces_pilots_gives_no_pilot_failures():
    frame, _ = defective_orders()
    suite = suites.orders_suite(D, "didi", PLATFORMS, PROVINCES, PROVINCES, PREFECTURES)
    counts = runner.unexpected_counts(runner.validate_frame("orders.csv", frame, suite))
    assert counts[("province_code", "NOT_PILOT_PROVINCE")] == 0


def test_missing_column_is_reported_not_counted():
    frame, _ = defective_orders()
    suite = suites.orders_suite(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    result = runner.validate_frame("orders.csv", frame.drop(columns=["premium_fen"]), suite)
    failed = [entry for entry in result["results"] if entry["raised_exception"]]
    assert {entry["column"] for entry in failed} == {"premium_fen"}
    assert all(entry["unexpected_count"] is None and entry["success"] is False for entry in failed)
    with pytest.raises(ValueError):
        runner.unexpected_counts(result)


# ---------------------------------------------------------------------------
# Claims frame with known defects
# ---------------------------------------------------------------------------

CLAIM_COLUMNS = [
    "claim_id",
    "platform_code",
    "order_id",
    "worker_id",
    "worker_name",
    "incident_at",
    "incident_province_code",
    "incident_city_code",
    "injury_type",
    "treatment",
    "inpatient_days",
    "medical_cost_fen",
    "disability_assessment",
    "liability_disputed",
    "documents",
    "reported_at",
    "payee_account",
    "payee_bank_code",
]


def _claim(n: int, **changes) -> dict:
    row = {
        "claim_id": f"clm-{n:05d}",
        "platform_code": "didi",
        "order_id": f"ord-{n:05d}",
        "worker_id": rid("310104", f"19{70 + n % 30:02d}0{1 + n % 9}2{n % 9}", f"{n % 1000:03d}"),
        "worker_name": NAMES[n % len(NAMES)],
        "incident_at": "2025-06-30T08:00:00+08:00",
        "incident_province_code": "310000",
        "incident_city_code": "310100",
        "injury_type": "sprain",
        "treatment": "outpatient",
        "inpatient_days": "0",
        "medical_cost_fen": "35000",
        "disability_assessment": "false",
        "liability_disputed": "false",
        "documents": "application_form;consent;diagnosis;receipts;liability_determination",
        "reported_at": "2025-06-30T09:00:00+08:00",
        "payee_account": card(f"62{n % 10}{(n * 7) % 10}", 16 + n % 4),
        "payee_bank_code": "102100099996",
    }
    row.update(changes)
    return row


def defective_claims() -> tuple[pd.DataFrame, dict[tuple[str, str], int]]:
    rows = [
        _claim(0),
        _claim(1, worker_id=MACAU_PERMIT, documents=None),
        _claim(2, claim_id="c/2", order_id=None),
        _claim(3, platform_code="caocao", worker_id=wrong_check(MACAU_PERMIT)),
        _claim(4, worker_name=" ", incident_at=None),
        _claim(5, incident_province_code="999999", incident_city_code="310199"),
        _claim(6, injury_type="broken_leg", treatment="icu"),
        _claim(7, inpatient_days="2.5", medical_cost_fen="-100"),
        _claim(8, disability_assessment="True", liability_disputed="no"),
        _claim(9, disability_assessment=None, reported_at=None),
        _claim(10, payee_account=card("6222", 15)),
        _claim(11, payee_account=bad_luhn(card("6222", 19))),
        _claim(12, payee_account=None, payee_bank_code="10210009999"),
        _claim(13, payee_bank_code="1021000999960"),
    ]
    expected = {
        ("claim_id", "MISSING_VALUE"): 0,
        ("claim_id", "INVALID_IDENTIFIER"): 1,
        ("platform_code", "MISSING_VALUE"): 0,
        ("platform_code", "UNKNOWN_PLATFORM"): 0,
        ("platform_code", "PLATFORM_MISMATCH"): 1,
        ("order_id", "MISSING_VALUE"): 1,
        ("order_id", "INVALID_IDENTIFIER"): 0,
        ("worker_id", "MISSING_VALUE"): 0,
        ("worker_id", "INVALID_RESIDENT_ID"): 1,
        ("worker_name", "MISSING_VALUE"): 1,
        ("incident_at", "MISSING_VALUE"): 1,
        ("incident_province_code", "MISSING_VALUE"): 0,
        ("incident_province_code", "INVALID_AREA_CODE"): 1,
        ("incident_city_code", "MISSING_VALUE"): 0,
        ("incident_city_code", "INVALID_AREA_CODE"): 1,
        ("injury_type", "MISSING_VALUE"): 0,
        ("injury_type", "UNKNOWN_CODE"): 1,
        ("treatment", "MISSING_VALUE"): 0,
        ("treatment", "UNKNOWN_CODE"): 1,
        ("inpatient_days", "MISSING_VALUE"): 0,
        ("inpatient_days", "INVALID_INTEGER"): 1,
        ("medical_cost_fen", "MISSING_VALUE"): 0,
        ("medical_cost_fen", "INVALID_INTEGER"): 1,
        ("disability_assessment", "MISSING_VALUE"): 1,
        ("disability_assessment", "INVALID_BOOLEAN"): 1,
        ("liability_disputed", "MISSING_VALUE"): 0,
        ("liability_disputed", "INVALID_BOOLEAN"): 1,
        ("reported_at", "MISSING_VALUE"): 1,
        ("payee_account", "MISSING_VALUE"): 1,
        ("payee_account", "INVALID_BANK_ACCOUNT"): 2,
        ("payee_bank_code", "MISSING_VALUE"): 0,
        ("payee_bank_code", "INVALID_BANK_CODE"): 2,
    }
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS, dtype=object), expected


@pytest.fixture(scope="module")
def claims_run():
    frame, expected = defective_claims()
    suite = suites.claims_suite(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    return frame, expected, runner.validate_frame("claims/platform=didi/date=2025-07-01/claims.jsonl", frame, suite)


def test_claims_unexpected_counts_per_reason(claims_run):
    _, expected, result = claims_run
    assert runner.unexpected_counts(result) == expected


# ---------------------------------------------------------------------------
# No personal data leaves the runner
# ---------------------------------------------------------------------------


def _personal_values(*frames: pd.DataFrame) -> set[str]:
    values = set()
    for frame in frames:
        for column in ("worker_id", "worker_name", "payee_account"):
            if column in frame:
                values.update(v for v in frame[column] if isinstance(v, str) and v.strip())
    return values


def _leaks(text: str, values: set[str]) -> list[str]:
    variants = (text, html.unescape(text))
    return sorted(v for v in values if any(v in t for t in variants))


def test_ge_itself_keeps_no_samples_with_our_result_format():
    # The first line of defence: GE computes no samples at all.
    import great_expectations as gx

    frame, _ = defective_claims()
    suite = suites.claims_suite(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    context = runner.get_context()
    stored = context.suites.add_or_update(suite)
    batch = context.data_sources.get("claims_frames").get_asset("frame").get_batch_definition(
        "whole_frame"
    ).get_batch(batch_parameters={"dataframe": frame})
    raw = batch.validate(stored, result_format=runner.RESULT_FORMAT)
    assert isinstance(raw, gx.core.ExpectationSuiteValidationResult)
    for item in raw.results:
        assert set(item.result) <= {
            "element_count",
            "unexpected_count",
            "unexpected_percent",
            "missing_count",
            "missing_percent",
            "unexpected_percent_total",
            "unexpected_percent_nonmissing",
        }, item.result.keys()
    raw_results = json.dumps([item.to_json_dict() for item in raw.results], ensure_ascii=False)
    assert _leaks(raw_results, _personal_values(frame)) == []


def test_leak_check_catches_ge_default_samples():
    # Control for the leak checks: GE's plain SUMMARY format does carry samples.
    frame, _ = defective_claims()
    suite = suites.claims_suite(D, "didi", PLATFORMS, PROVINCES, PILOTS, PREFECTURES)
    context = runner.get_context()
    stored = context.suites.add_or_update(suite)
    batch = context.data_sources.get("claims_frames").get_asset("frame").get_batch_definition(
        "whole_frame"
    ).get_batch(batch_parameters={"dataframe": frame})
    raw = batch.validate(stored, result_format="SUMMARY")
    raw_results = json.dumps([item.to_json_dict() for item in raw.results], ensure_ascii=False)
    assert wrong_check(MACAU_PERMIT) in _leaks(raw_results, _personal_values(frame))


def test_scrubbed_result_is_json_and_free_of_personal_data(orders_run, claims_run):
    for frame, _, result in (orders_run, claims_run):
        text = json.dumps(result, ensure_ascii=False, allow_nan=False)
        assert json.loads(text) == result
        assert set(result) == {
            "suite",
            "source",
            "success",
            "statistics",
            "results",
            "validated_at",
            "great_expectations_version",
        }
        for entry in result["results"]:
            assert set(entry) == {
                "expectation_type",
                "column",
                "field",
                "reason_code",
                "success",
                "element_count",
                "unexpected_count",
                "raised_exception",
                "kwargs",
            }
        assert _leaks(text, _personal_values(frame)) == []
        assert _leaks(json.dumps(result), _personal_values(frame)) == []


def test_scrub_rewhitelists_dicts():
    dirty = {
        "suite": "s",
        "success": False,
        "statistics": {"evaluated_expectations": 1, "secret": "110105199003071234"},
        "results": [
            {
                "expectation_type": "expect_column_values_to_not_be_null",
                "column": "worker_id",
                "field": "worker_id",
                "reason_code": "MISSING_VALUE",
                "success": False,
                "element_count": 2,
                "unexpected_count": 1,
                "partial_unexpected_list": ["110105199003071234"],
                "kwargs": {"column": "worker_id", "batch_id": "x"},
            }
        ],
        "meta": {"batch_markers": "110105199003071234"},
    }
    clean = runner.scrub(dirty)
    assert "110105199003071234" not in json.dumps(clean)
    assert clean["results"][0]["kwargs"] == {"column": "worker_id"}


def test_data_docs_are_written_and_free_of_personal_data(tmp_path, orders_run, claims_run):
    results = [orders_run[2], json.loads(json.dumps(claims_run[2]))]  # a dict read back from JSON works too
    out = tmp_path / "quality" / "date=2025-07-01" / "data_docs"
    index = runner.write_data_docs(results, out)
    assert index == out / "index.html" and index.is_file()

    pages = sorted(out.rglob("*.html"))
    validation_pages = [p for p in pages if "validations" in p.parts]
    suite_pages = [p for p in pages if "expectations" in p.parts]
    assert len(validation_pages) == 2
    assert len(suite_pages) == 2
    orders_page = next(p for p in validation_pages if "orders" in p.parts).read_text(encoding="utf-8")
    assert "orders/platform=didi/date=2025-07-01/part-1.csv" in orders_page
    assert "resident IDs" in orders_page  # our renderer, not the raw kwargs dump

    values = _personal_values(orders_run[0], claims_run[0])
    assert values
    leaks = {}
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            found = _leaks(text, values)
            if found:
                leaks[str(path.relative_to(out))] = found
    assert leaks == {}
    # The scrubbed JSON next to the docs, as the quality folder holds it.
    (out.parent / "validation.json").write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")
    assert _leaks((out.parent / "validation.json").read_text(encoding="utf-8"), values) == []


def test_data_docs_do_not_replace_the_validation_context(tmp_path, orders_run):
    import great_expectations as gx
    from great_expectations.data_context.data_context.context_factory import project_manager

    runner.write_data_docs([orders_run[2]], tmp_path / "docs")
    assert project_manager.get_current_project() is runner.get_context()
    assert isinstance(runner.get_context(), gx.data_context.EphemeralDataContext)


def test_rebuilding_the_docs_replaces_the_previous_site(tmp_path, orders_run, claims_run):
    out = tmp_path / "docs"
    runner.write_data_docs([orders_run[2], claims_run[2]], out)
    runner.write_data_docs([orders_run[2]], out)
    pages = [p for p in out.rglob("*.html") if "validations" in p.parts]
    assert len(pages) == 1
    (out / "keep.txt").write_text("not GE's")
    runner.write_data_docs([], out)
    assert (out / "keep.txt").exists() and (out / "index.html").exists()
