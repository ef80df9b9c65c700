"""Great Expectations suites for orders and claims files, built as code.

GE is the project's *second opinion*: the rejections themselves come from the
ingestion checks (docs/validation-rules.md). Every expectation here carries
``meta={"field": <column>, "reason_code": <CODE>}`` so that, per file, the sum
of ``unexpected_count`` over the expectations of one (field, reason code) can be
compared with the number of rejection lines of that (field, reason code) -- for
the rules covered below.

How each rule is kept to one count per failing row, as the spec's exclusive
checks are:

* ``MISSING_VALUE`` is ``expect_column_values_to_not_be_null`` (the frame holds
  None for an empty field). Every other expectation is a GE map expectation,
  which skips nulls, so an empty field is counted once, as missing.
* A code that is not registered is counted under the first failing check only:
  ``PLATFORM_MISMATCH`` is "not in (registered platforms - {P})", so an
  unregistered code (``UNKNOWN_PLATFORM``) is not also a mismatch;
  ``NOT_PILOT_PROVINCE`` is "not in (province codes - pilot provinces)", so an
  invalid code (``INVALID_AREA_CODE``) is not also "not a pilot".
* ``worker_name`` has two ``MISSING_VALUE`` expectations: not null, and
  "contains a non-whitespace character" (``\\S``, Python's ``str.strip()``
  notion of blank, so U+3000 ideographic spaces count as blank). They never
  fail on the same row.
* Regexes end in ``\\Z``, not ``$``: Python's ``$`` also matches before a
  trailing newline, and the spec's patterns are whole-value matches.

Coverage (orders: O, claims: C)

=====================================  ==========================  ===========================================
rule (field: reason code)              where                       GE expectation
=====================================  ==========================  ===========================================
every required field: MISSING_VALUE    O, C                        expect_column_values_to_not_be_null
worker_name blank: MISSING_VALUE       O, C                        expect_column_values_to_match_regex ``\\S``
order_id/claim_id: INVALID_IDENTIFIER  O, C                        match_regex ``^[A-Za-z0-9_-]{1,64}\\Z``
platform_code: UNKNOWN_PLATFORM        O, C                        expect_column_values_to_be_in_set
platform_code: PLATFORM_MISMATCH       O, C                        expect_column_values_to_not_be_in_set
worker_id: INVALID_RESIDENT_ID         O, C                        ExpectColumnValuesToBeResidentIds (custom)
industry: UNKNOWN_CODE                 O                           expect_column_values_to_be_in_set
province_code: INVALID_AREA_CODE       O                           expect_column_values_to_be_in_set
province_code: NOT_PILOT_PROVINCE      O                           expect_column_values_to_not_be_in_set
city_code: INVALID_AREA_CODE           O                           expect_column_values_to_be_in_set
status: UNKNOWN_CODE                   O                           expect_column_values_to_be_in_set
premium_fen: INVALID_INTEGER           O                           match_regex ``^[0-9]{1,18}\\Z``
incident_province_code: INVALID_AREA   C                           expect_column_values_to_be_in_set
incident_city_code: INVALID_AREA_CODE  C                           expect_column_values_to_be_in_set
injury_type, treatment: UNKNOWN_CODE   C                           expect_column_values_to_be_in_set
inpatient_days, medical_cost_fen:      C                           match_regex ``^[0-9]{1,18}\\Z``
  INVALID_INTEGER
disability_assessment,                 C                           expect_column_values_to_be_in_set
  liability_disputed: INVALID_BOOLEAN                              (``true``/``false``)
payee_account: INVALID_BANK_ACCOUNT    C                           ExpectColumnValuesToBeLuhnValidCardNumbers
payee_bank_code: INVALID_BANK_CODE     C                           match_regex ``^[0-9]{12}\\Z``
=====================================  ==========================  ===========================================

Not covered by GE (ingestion only), because the check needs another column,
another row, or a parsed timestamp compared with something:

* ``INVALID_TIMESTAMP`` (accepted_at, completed_at, incident_at, reported_at):
  ISO 8601 parsing as the ingestion defines it has no faithful GE equivalent
  (``dateutil``-parseable is far more lenient);
* ``OUTSIDE_PARTITION`` (accepted_at, incident_at, reported_at): the time zone
  aware date of a parsed timestamp;
* ``STATUS_MISMATCH``, ``TIME_ORDER``, ``DURATION_TOO_LONG`` (completed_at,
  reported_at): relations between columns;
* ``INDUSTRY_MISMATCH`` (industry vs the row's platform) and
  ``CITY_NOT_IN_PROVINCE`` (city vs the row's province): column pairs whose
  exclusive-check semantics (only when both sides are valid) a GE pair
  expectation does not reproduce;
* ``DUPLICATE_IN_FILE``, ``DUPLICATE_KEY``, ``MALFORMED_ROW`` and the
  whole-file reasons: other rows, other files, or rows that never became a
  frame row.

``documents`` has no check (may be empty, any names).

The functions take explicit reference data, so the suite of a partition is
determined by its arguments alone; suite names are ``orders.{platform}.{date}``
and ``claims.{platform}.{date}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import great_expectations as gx
import great_expectations.expectations as gxe

from validations.expectations import (
    ExpectColumnValuesToBeLuhnValidCardNumbers,
    ExpectColumnValuesToBeResidentIds,
)

__all__ = [
    "BOOLEANS",
    "INDUSTRIES",
    "INJURY_TYPES",
    "ORDER_STATUSES",
    "PERMIT_PREFIXES",
    "TREATMENTS",
    "claims_suite",
    "orders_suite",
]

INDUSTRIES = ("ride_hailing", "instant_delivery", "freight")
ORDER_STATUSES = ("completed", "cancelled")
INJURY_TYPES = (
    "soft_tissue",
    "sprain",
    "abrasion",
    "laceration",
    "contusion",
    "fracture",
    "dislocation",
    "burn",
    "head_injury",
    "other",
)
TREATMENTS = ("outpatient", "emergency", "inpatient")
BOOLEANS = ("true", "false")
# Hong Kong, Macau and Taiwan residence permits (810000/820000/830000).
PERMIT_PREFIXES = ("81", "82", "83")

IDENTIFIER_REGEX = r"^[A-Za-z0-9_-]{1,64}\Z"
INTEGER_REGEX = r"^[0-9]{1,18}\Z"
BANK_CODE_REGEX = r"^[0-9]{12}\Z"
NON_BLANK_REGEX = r"\S"


def _meta(column: str, reason_code: str) -> dict:
    return {"field": column, "reason_code": reason_code}


def _sorted(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


class _Builder:
    """Collects the expectations of one suite, each with its field/reason meta.

    The suite is made in one go by the constructor: ``ExpectationSuite.add_expectation``
    in GE 1.24 needs a current Data Context even for a suite that belongs to
    none, and building a suite must not need GE's context.
    """

    def __init__(self, name: str, meta: dict) -> None:
        self.name = name
        self.meta = meta
        self.expectations: list = []

    def add(self, expectation) -> None:
        self.expectations.append(expectation)

    def build(self) -> gx.ExpectationSuite:
        suite = gx.ExpectationSuite(name=self.name, expectations=self.expectations, meta=dict(self.meta))
        # The constructor logs and drops an expectation it cannot process: refuse that.
        if len(suite.expectations) != len(self.expectations):
            raise RuntimeError(f"suite {self.name}: GE dropped expectations while building it")
        return suite

    def not_null(self, column: str) -> None:
        self.add(gxe.ExpectColumnValuesToNotBeNull(column=column, meta=_meta(column, "MISSING_VALUE")))

    def regex(self, column: str, regex: str, code: str) -> None:
        self.add(gxe.ExpectColumnValuesToMatchRegex(column=column, regex=regex, meta=_meta(column, code)))

    def in_set(self, column: str, values: Iterable[str], code: str) -> None:
        self.add(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=_sorted(values), meta=_meta(column, code)))

    def not_in_set(self, column: str, values: Iterable[str], code: str) -> None:
        self.add(
            gxe.ExpectColumnValuesToNotBeInSet(column=column, value_set=_sorted(values), meta=_meta(column, code))
        )

    # Field groups shared by orders and claims.

    def identifier(self, column: str) -> None:
        self.not_null(column)
        self.regex(column, IDENTIFIER_REGEX, "INVALID_IDENTIFIER")

    def platform(self, partition_platform: str, platforms: Mapping[str, str]) -> None:
        self.not_null("platform_code")
        self.in_set("platform_code", platforms, "UNKNOWN_PLATFORM")
        # Registered but not the partition's: a mismatch. Unregistered codes are
        # UNKNOWN_PLATFORM only (exclusive checks).
        self.not_in_set("platform_code", set(platforms) - {partition_platform}, "PLATFORM_MISMATCH")

    def worker(self, partition_date: dt.date, province_codes: Iterable[str]) -> None:
        self.not_null("worker_id")
        prefixes = {code[:2] for code in province_codes} | set(PERMIT_PREFIXES)
        self.add(
            ExpectColumnValuesToBeResidentIds(
                column="worker_id",
                province_codes=_sorted(prefixes),
                min_birth_date="1900-01-01",
                max_birth_date=partition_date.isoformat(),
                meta=_meta("worker_id", "INVALID_RESIDENT_ID"),
            )
        )
        self.not_null("worker_name")
        self.regex("worker_name", NON_BLANK_REGEX, "MISSING_VALUE")


def _check_arguments(
    partition_date: dt.date,
    partition_platform: str,
    platforms: Mapping[str, str],
    province_codes: Iterable[str],
    prefecture_codes: Iterable[str],
) -> None:
    if not isinstance(partition_date, dt.date) or isinstance(partition_date, dt.datetime):
        raise TypeError("partition_date must be a datetime.date")
    if not isinstance(partition_platform, str) or not partition_platform:
        raise TypeError("partition_platform must be a non-empty str")
    if not platforms:
        raise ValueError("platforms (code -> industry) must not be empty")
    for codes, what in ((province_codes, "province_codes"), (prefecture_codes, "prefecture_codes")):
        bad = [code for code in codes if not (isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit())]
        if bad:
            raise ValueError(f"{what} must be 6-digit codes, got {bad[:3]!r}")


def orders_suite(
    partition_date: dt.date,
    partition_platform: str,
    platforms: dict[str, str],
    province_codes: set[str],
    pilot_province_codes: set[str],
    prefecture_codes: set[str],
) -> gx.ExpectationSuite:
    """The suite of one orders partition (``orders/platform=P/date=D``).

    Args:
        partition_date: D.
        partition_platform: P.
        platforms: registered platforms, code -> industry.
        province_codes: every province-level GB/T 2260 code (6 digits).
        pilot_province_codes: the provinces in the scheme on D.
        prefecture_codes: every prefecture-level GB/T 2260 code.
    """
    _check_arguments(partition_date, partition_platform, platforms, province_codes, prefecture_codes)
    province_codes = set(province_codes)
    b = _Builder(
        f"orders.{partition_platform}.{partition_date.isoformat()}",
        {"dataset": "orders", "partition_platform": partition_platform, "partition_date": partition_date.isoformat()},
    )
    b.identifier("order_id")
    b.platform(partition_platform, platforms)
    b.worker(partition_date, province_codes)
    b.not_null("industry")
    b.in_set("industry", INDUSTRIES, "UNKNOWN_CODE")
    b.not_null("province_code")
    b.in_set("province_code", province_codes, "INVALID_AREA_CODE")
    b.not_in_set("province_code", province_codes - set(pilot_province_codes), "NOT_PILOT_PROVINCE")
    b.not_null("city_code")
    b.in_set("city_code", prefecture_codes, "INVALID_AREA_CODE")
    b.not_null("accepted_at")
    b.not_null("status")
    b.in_set("status", ORDER_STATUSES, "UNKNOWN_CODE")
    b.not_null("premium_fen")
    b.regex("premium_fen", INTEGER_REGEX, "INVALID_INTEGER")
    return b.build()


def claims_suite(
    partition_date: dt.date,
    partition_platform: str,
    platforms: dict[str, str],
    province_codes: set[str],
    pilot_province_codes: set[str],
    prefecture_codes: set[str],
) -> gx.ExpectationSuite:
    """The suite of one claims partition (``claims/platform=P/date=D``, D the filing date).

    Same arguments as :func:`orders_suite`. ``pilot_province_codes`` is
    accepted for symmetry: no field check of a claim depends on it (whether
    the order's province was a pilot is decided by adjudication).
    """
    _check_arguments(partition_date, partition_platform, platforms, province_codes, prefecture_codes)
    province_codes = set(province_codes)
    b = _Builder(
        f"claims.{partition_platform}.{partition_date.isoformat()}",
        {"dataset": "claims", "partition_platform": partition_platform, "partition_date": partition_date.isoformat()},
    )
    b.identifier("claim_id")
    b.platform(partition_platform, platforms)
    b.identifier("order_id")
    b.worker(partition_date, province_codes)
    b.not_null("incident_at")
    b.not_null("incident_province_code")
    b.in_set("incident_province_code", province_codes, "INVALID_AREA_CODE")
    b.not_null("incident_city_code")
    b.in_set("incident_city_code", prefecture_codes, "INVALID_AREA_CODE")
    b.not_null("injury_type")
    b.in_set("injury_type", INJURY_TYPES, "UNKNOWN_CODE")
    b.not_null("treatment")
    b.in_set("treatment", TREATMENTS, "UNKNOWN_CODE")
    for column in ("inpatient_days", "medical_cost_fen"):
        b.not_null(column)
        b.regex(column, INTEGER_REGEX, "INVALID_INTEGER")
    for column in ("disability_assessment", "liability_disputed"):
        b.not_null(column)
        b.in_set(column, BOOLEANS, "INVALID_BOOLEAN")
    b.not_null("reported_at")
    b.not_null("payee_account")
    b.add(ExpectColumnValuesToBeLuhnValidCardNumbers(column="payee_account", meta=_meta("payee_account", "INVALID_BANK_ACCOUNT")))
    b.not_null("payee_bank_code")
    b.regex("payee_bank_code", BANK_CODE_REGEX, "INVALID_BANK_CODE")
    return b.build()
