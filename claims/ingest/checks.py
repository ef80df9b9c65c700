"""Exact, vectorised row checks over Arrow batches (docs/validation-rules.md).

Each check is one small named function that returns the rows it fails; the
verdicts decide rejections. Great Expectations validates the same batches as a
second opinion (validations/), and a test holds the two to the same counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from claims.reference import Reference

ORDER_COLUMNS = [
    "order_id", "platform_code", "worker_id", "worker_name", "industry", "province_code",
    "city_code", "accepted_at", "completed_at", "status", "premium_fen",
]
CLAIM_COLUMNS = [
    "claim_id", "platform_code", "order_id", "worker_id", "worker_name", "incident_at",
    "incident_province_code", "incident_city_code", "injury_type", "treatment",
    "inpatient_days", "medical_cost_fen", "disability_assessment", "liability_disputed",
    "documents", "reported_at", "payee_account", "payee_bank_code",
]
DETERMINATION_COLUMNS = [
    "claim_id", "platform_code", "decision", "approved_amount_fen", "reason", "decided_at", "decided_by",
]
DETERMINATION_DECISIONS = ("approved", "rejected")
DECLARATION_COLUMNS = ["platform_code", "province_code", "industry", "month", "order_count", "premium_fen"]
BANK_RETURN_COLUMNS = ["batch_id", "end_to_end_id", "status", "failure_code", "failure_reason", "processed_at"]
BANK_RETURN_STATUSES = ("settled", "failed")
INDUSTRIES = ("ride_hailing", "instant_delivery", "freight")
ORDER_STATUSES = ("completed", "cancelled")
INJURY_TYPES = (
    "soft_tissue", "sprain", "abrasion", "laceration", "contusion", "fracture",
    "dislocation", "burn", "head_injury", "other",
)
TREATMENTS = ("outpatient", "emergency", "inpatient")
BOOLEANS = ("true", "false")
#: Hong Kong, Macau and Taiwan residence permits use these area codes (GB 11643 form).
RESIDENCE_PERMIT_AREAS = ("810000", "820000", "830000")
#: Fields whose values are personal data: never quoted in a message.
PERSONAL_FIELDS = {"worker_id", "worker_name", "payee_account"}

#: Names are at most this many characters (the payout files' creditor name holds 140).
NAME_MAX_CHARACTERS = 140
#: Control characters (Unicode Cc) and the bidirectional-text controls that reorder
#: what a reader sees (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069).
NAME_UNSAFE = r"[\x{0000}-\x{001F}\x{007F}-\x{009F}\x{061C}\x{200E}\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}]"
#: A first character a spreadsheet takes for a formula (OWASP CSV injection).
FORMULA_START = r"^[=+\-@\t\r]"

IDENTIFIER = r"^[A-Za-z0-9_-]{1,64}$"
INTEGER = r"^[0-9]+$"
BANK_CODE = r"^[0-9]{12}$"
RESIDENT_ID = r"^[0-9]{17}[0-9X]$"
CARD_NUMBER = r"^[0-9]{16,19}$"
TIMESTAMP = (
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?P<minute>[0-9]{2}:[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?P<fraction>\.[0-9]{1,9})?)?(?P<offset>Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
#: The same shape, with offsets bounded as the exact path bounds them (at most 14 h).
TIMESTAMP_SHAPE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-](0[0-9]|1[0-4]):?[0-5][0-9])?$"
)
SHANGHAI_OFFSET_US = 8 * 3600 * 1_000_000  # Asia/Shanghai has kept UTC+8 since 1991
DAY_US = 86_400 * 1_000_000
_ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
EPOCH = date(1970, 1, 1)


def day_start_us(day: date) -> int:
    """UTC microseconds of 00:00 Asia/Shanghai on a day."""
    return (day - EPOCH).days * DAY_US - SHANGHAI_OFFSET_US



@dataclass
class Failure:
    field: str
    code: str
    rows: np.ndarray  # indices of failing rows


@dataclass
class Verdicts:
    """The failures of one batch, and the typed values of the fields that parsed."""

    num_rows: int
    failures: list[Failure] = field(default_factory=list)
    timestamps: dict[str, np.ndarray] = field(default_factory=dict)  # UTC microseconds
    integers: dict[str, np.ndarray] = field(default_factory=dict)

    def fail(self, field_name: str, code: str, mask: np.ndarray) -> None:
        rows = np.flatnonzero(mask)
        if rows.size:
            self.failures.append(Failure(field_name, code, rows))

    def rejected(self) -> np.ndarray:
        mask = np.zeros(self.num_rows, dtype=bool)
        for failure in self.failures:
            mask[failure.rows] = True
        return mask


# -- vectorised primitives ------------------------------------------------------------
def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def is_empty(column: pa.ChunkedArray, trim: bool = False) -> np.ndarray:
    values = pc.utf8_trim_whitespace(column) if trim else column
    return _np(pc.equal(pc.utf8_length(values), 0))


def matches(column: pa.ChunkedArray, pattern: str) -> np.ndarray:
    return _np(pc.match_substring_regex(column, pattern))


def is_in(column: pa.ChunkedArray, values: set[str] | tuple[str, ...]) -> np.ndarray:
    return _np(pc.is_in(column, value_set=pa.array(sorted(values), pa.string())))


def _fixed_width_bytes(column: pa.ChunkedArray, mask: np.ndarray, width: int) -> np.ndarray:
    """The rows under ``mask`` (all exactly ``width`` ASCII bytes) as an (n, width) array."""
    chosen = pc.filter(column, pa.array(mask)).combine_chunks()
    if len(chosen) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    offsets = np.frombuffer(chosen.buffers()[1], dtype=np.int32)[chosen.offset: chosen.offset + len(chosen) + 1]
    data = np.frombuffer(chosen.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
    return data.reshape(len(chosen), width)


def resident_id_valid(column: pa.ChunkedArray, province_codes: set[str], latest_birth: date) -> np.ndarray:
    """GB 11643: form, a known province (or HK/Macau/Taiwan permit), a real birth
    date not after ``latest_birth``, and the ISO 7064 MOD 11-2 check character.
    The county part is not checked: IDs of abolished counties stay valid."""
    valid = matches(column, RESIDENT_ID)
    rows = np.flatnonzero(valid)
    if rows.size == 0:
        return valid
    chars = _fixed_width_bytes(column, valid, 18)
    digits = chars[:, :17].astype(np.int64) - 48
    expected = _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]
    ok = expected == chars[:, 17]
    prefixes = {code[:2] for code in province_codes} | {code[:2] for code in RESIDENCE_PERMIT_AREAS}
    prefix = digits[:, 0] * 10 + digits[:, 1]
    ok &= np.isin(prefix, np.array(sorted(int(p) for p in prefixes), dtype=np.int64))
    year = digits[:, 6] * 1000 + digits[:, 7] * 100 + digits[:, 8] * 10 + digits[:, 9]
    month = digits[:, 10] * 10 + digits[:, 11]
    day = digits[:, 12] * 10 + digits[:, 13]
    ok &= _real_dates(year, month, day, date(1900, 1, 1), latest_birth)
    valid[rows] = ok
    return valid


def _real_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray, earliest: date, latest: date) -> np.ndarray:
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (year >= 1)
    safe_year = np.where(ok, year, 2000)
    safe_month = np.where(ok, month, 1)
    first = (safe_year - 1970) * 12 + (safe_month - 1)
    month_start = first.astype("datetime64[M]")
    days_in_month = ((month_start + 1).astype("datetime64[D]") - month_start.astype("datetime64[D]")).astype(np.int64)
    ok &= day <= days_in_month
    stamp = month_start.astype("datetime64[D]") + np.where(ok, day - 1, 0)
    ok &= (stamp >= np.datetime64(earliest)) & (stamp <= np.datetime64(latest))
    return ok


def luhn_valid(column: pa.ChunkedArray) -> np.ndarray:
    """16-19 digits with a valid Luhn check digit (left-padded with zeros to 19)."""
    valid = matches(column, CARD_NUMBER)
    rows = np.flatnonzero(valid)
    if rows.size == 0:
        return valid
    padded = pc.utf8_lpad(column, width=19, padding="0")
    digits = _fixed_width_bytes(padded, valid, 19).astype(np.int64) - 48
    doubled = digits[:, 1::2] * 2  # from the right, every second digit (19 wide: odd positions)
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = digits[:, 0::2].sum(axis=1) + doubled.sum(axis=1)
    valid[rows] = total % 10 == 0
    return valid


def parse_timestamps(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """ISO 8601 text to UTC microseconds; no offset means Asia/Shanghai.
    Returns (valid mask, microseconds).

    Fast path: rows of the contract's shape go through Arrow's ISO 8601 cast (C++),
    which refuses impossible dates and times; a batch with any value the cast
    refuses (Feb 30, 24:00, nanoseconds) is parsed by the exact path instead, which
    gives the same answer for every row (a property test holds them together)."""
    shaped = matches(column, TIMESTAMP_SHAPE)
    values = np.zeros(len(column), dtype=np.int64)
    if not shaped.any():
        return shaped, values
    with_offset = shaped & has_offset(column)
    naive = shaped & ~with_offset
    try:
        if with_offset.any():
            utc = pc.cast(pc.filter(column, pa.array(with_offset)), pa.timestamp("us", "UTC"))
            values[with_offset] = _int64(utc)
        if naive.any():
            local = pc.cast(pc.filter(column, pa.array(naive)), pa.timestamp("us"))
            values[naive] = _int64(local) - SHANGHAI_OFFSET_US
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return parse_timestamps_exact(column)
    return shaped, values


def has_offset(column: pa.ChunkedArray) -> np.ndarray:
    """For text of TIMESTAMP_SHAPE: ends in Z, +hh:mm or +hhmm (cheaper than a regex;
    no naive time of that shape has a sign 5 or 6 characters from its end)."""
    signs = ("+", "-")
    return (
        _np(pc.ends_with(column, "Z"))
        | is_in(pc.utf8_slice_codeunits(column, -6, -5), signs)
        | is_in(pc.utf8_slice_codeunits(column, -5, -4), signs)
    )


def _int64(timestamps: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(timestamps.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def parse_timestamps_exact(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The exact path: every component taken apart and checked."""
    parts = pc.extract_regex(column, TIMESTAMP)
    matched = _np(pc.is_valid(parts))
    values = np.zeros(len(column), dtype=np.int64)
    if not matched.any():
        return matched, values
    second = pc.struct_field(parts, "second")
    second = pc.if_else(pc.equal(second, ""), "00", second)
    clock = pc.binary_join_element_wise(pc.struct_field(parts, "minute"), second, ":")
    base = pc.binary_join_element_wise(pc.struct_field(parts, "date"), clock, "T")
    naive = pc.strptime(base, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
    # strptime rolls impossible dates over (Feb 30 -> Mar 2): require a round trip.
    round_trip = pc.strftime(naive.cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
    parsed = _np(pc.equal(round_trip, base))
    seconds = np.asarray(pc.fill_null(naive.cast(pa.int64()), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    fraction = pc.fill_null(pc.struct_field(parts, "fraction"), "")
    micro_text = pc.utf8_rpad(pc.utf8_slice_codeunits(fraction, 1, 7), width=6, padding="0")
    micros = np.asarray(
        pc.fill_null(pc.cast(pc.if_else(pc.equal(fraction, ""), "000000", micro_text), pa.int64(), safe=False), 0)
        .to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    offset_text = pc.fill_null(pc.struct_field(parts, "offset"), "")
    offsets = np.full(len(column), SHANGHAI_OFFSET_US, dtype=np.int64)
    present = _np(pc.not_equal(offset_text, ""))
    zulu = _np(pc.equal(offset_text, "Z"))
    offsets[zulu] = 0
    signed = present & ~zulu
    if signed.any():
        plain = pc.replace_substring(offset_text, ":", "")
        hours = np.asarray(pc.fill_null(pc.cast(pc.if_else(pa.array(signed), pc.utf8_slice_codeunits(plain, 1, 3), "0"), pa.int64()), 0).to_numpy(zero_copy_only=False))
        minutes = np.asarray(pc.fill_null(pc.cast(pc.if_else(pa.array(signed), pc.utf8_slice_codeunits(plain, 3, 5), "0"), pa.int64()), 0).to_numpy(zero_copy_only=False))
        sign = np.where(_np(pc.starts_with(offset_text, "-")), -1, 1)
        bad_offset = signed & ((hours > 14) | (minutes > 59))
        parsed &= ~bad_offset
        offsets[signed] = (sign * (hours * 3600 + minutes * 60) * 1_000_000)[signed]
    valid = matched & parsed
    values = np.where(valid, seconds + micros - offsets, 0)
    return valid, values


def normalise(table: pa.Table) -> pa.Table:
    """Forms that mean the same value are made one before anything is checked or
    pseudonymised: a lowercase x check character of a resident ID is X."""
    if "worker_id" in table.column_names:
        index = table.column_names.index("worker_id")
        table = table.set_column(index, "worker_id", pc.utf8_upper(table["worker_id"]))
    return table


# -- the checks per source --------------------------------------------------------------
@dataclass(frozen=True)
class Partition:
    source: str
    platform_code: str
    day: date


def _required(verdicts: Verdicts, table: pa.Table, name: str, trim: bool = False) -> np.ndarray:
    """MISSING_VALUE for empty values; returns the rows still to check."""
    empty = is_empty(table[name], trim=trim)
    verdicts.fail(name, "MISSING_VALUE", empty)
    return ~empty


def _identifier(verdicts: Verdicts, table: pa.Table, name: str) -> None:
    usable = _required(verdicts, table, name)
    verdicts.fail(name, "INVALID_IDENTIFIER", usable & ~matches(table[name], IDENTIFIER))


def _code(verdicts: Verdicts, table: pa.Table, name: str, allowed: tuple[str, ...]) -> np.ndarray:
    usable = _required(verdicts, table, name)
    known = is_in(table[name], allowed)
    verdicts.fail(name, "UNKNOWN_CODE", usable & ~known)
    return usable & known


def _platform(verdicts: Verdicts, table: pa.Table, partition: Partition, reference: Reference) -> np.ndarray:
    usable = _required(verdicts, table, "platform_code")
    registered = is_in(table["platform_code"], set(reference.platforms))
    verdicts.fail("platform_code", "UNKNOWN_PLATFORM", usable & ~registered)
    if partition.platform_code:  # feeds without a platform level check codes only
        same = _np(pc.equal(table["platform_code"], partition.platform_code))
        verdicts.fail("platform_code", "PLATFORM_MISMATCH", usable & registered & ~same)
    return usable & registered


def _worker(verdicts: Verdicts, table: pa.Table, partition: Partition, reference: Reference) -> None:
    usable = _required(verdicts, table, "worker_id")
    valid = resident_id_valid(table["worker_id"], set(reference.provinces), partition.day)
    verdicts.fail("worker_id", "INVALID_RESIDENT_ID", usable & ~valid)
    _name(verdicts, table, "worker_name")


def _name(verdicts: Verdicts, table: pa.Table, name: str) -> None:
    """A person's name: present, not taken for a formula by a spreadsheet, free of
    control and bidirectional-text characters, at most 140 characters. One code per
    row, in that order."""
    usable = _required(verdicts, table, name, trim=True)
    formula = usable & matches(table[name], FORMULA_START)
    verdicts.fail(name, "NAME_FORMULA_PREFIX", formula)
    usable &= ~formula
    unsafe = usable & matches(table[name], NAME_UNSAFE)
    verdicts.fail(name, "NAME_UNSAFE_CHARACTER", unsafe)
    usable &= ~unsafe
    length = np.asarray(pc.fill_null(pc.utf8_length(table[name]), 0).to_numpy(zero_copy_only=False))
    verdicts.fail(name, "NAME_TOO_LONG", usable & (length > NAME_MAX_CHARACTERS))


def _area(verdicts: Verdicts, table: pa.Table, province: str, city: str, reference: Reference) -> np.ndarray:
    """Province-level and prefecture-level codes; returns rows with a usable province."""
    province_ok = _required(verdicts, table, province)
    known_province = is_in(table[province], set(reference.provinces))
    verdicts.fail(province, "INVALID_AREA_CODE", province_ok & ~known_province)
    city_ok = _required(verdicts, table, city)
    known_city = is_in(table[city], set(reference.prefectures))
    verdicts.fail(city, "INVALID_AREA_CODE", city_ok & ~known_city)
    city_province = pc.binary_join_element_wise(pc.utf8_slice_codeunits(table[city], 0, 2), "0000", "")
    inside = _np(pc.equal(city_province, table[province]))
    verdicts.fail(city, "CITY_NOT_IN_PROVINCE", city_ok & known_city & province_ok & known_province & ~inside)
    return province_ok & known_province


def _timestamp(verdicts: Verdicts, table: pa.Table, name: str, required: bool = True) -> np.ndarray:
    usable = _required(verdicts, table, name) if required else ~is_empty(table[name])
    valid, values = parse_timestamps(table[name])
    verdicts.fail(name, "INVALID_TIMESTAMP", usable & ~valid)
    verdicts.timestamps[name] = values
    return usable & valid


def _integer(verdicts: Verdicts, table: pa.Table, name: str) -> np.ndarray:
    usable = _required(verdicts, table, name)
    valid = matches(table[name], INTEGER) & (pc.utf8_length(table[name]).to_numpy(zero_copy_only=False) <= 18)
    verdicts.fail(name, "INVALID_INTEGER", usable & ~valid)
    as_int = pc.cast(pc.if_else(pa.array(valid), table[name], "0"), pa.int64())
    verdicts.integers[name] = np.asarray(as_int.to_numpy(zero_copy_only=False), dtype=np.int64)
    return usable & valid


def _boolean(verdicts: Verdicts, table: pa.Table, name: str) -> None:
    usable = _required(verdicts, table, name)
    verdicts.fail(name, "INVALID_BOOLEAN", usable & ~is_in(table[name], BOOLEANS))


def check_orders(table: pa.Table, partition: Partition, reference: Reference) -> Verdicts:
    verdicts = Verdicts(table.num_rows)
    _identifier(verdicts, table, "order_id")
    platform_ok = _platform(verdicts, table, partition, reference)
    _worker(verdicts, table, partition, reference)

    industry_ok = _code(verdicts, table, "industry", INDUSTRIES)
    registered_industry = pc.index_in(table["platform_code"], value_set=pa.array(sorted(reference.platforms)))
    industries = pa.array([reference.platforms[code].industry for code in sorted(reference.platforms)])
    expected_industry = pc.take(industries, registered_industry)
    same_industry = _np(pc.equal(expected_industry, table["industry"]))
    verdicts.fail("industry", "INDUSTRY_MISMATCH", industry_ok & platform_ok & ~same_industry)

    province_ok = _area(verdicts, table, "province_code", "city_code", reference)
    pilot = is_in(table["province_code"], reference.pilot_provinces(partition.day))
    verdicts.fail("province_code", "NOT_PILOT_PROVINCE", province_ok & ~pilot)

    accepted_ok = _timestamp(verdicts, table, "accepted_at")
    accepted = verdicts.timestamps["accepted_at"]
    start = day_start_us(partition.day)
    verdicts.fail("accepted_at", "OUTSIDE_PARTITION", accepted_ok & ((accepted < start) | (accepted >= start + DAY_US)))

    status_ok = _code(verdicts, table, "status", ORDER_STATUSES)
    completed_ok = _timestamp(verdicts, table, "completed_at", required=False)
    has_completion = ~is_empty(table["completed_at"])
    is_completed = _np(pc.equal(table["status"], "completed"))
    verdicts.fail("completed_at", "STATUS_MISMATCH", status_ok & (is_completed != has_completion))
    completed = verdicts.timestamps["completed_at"]
    both = accepted_ok & completed_ok
    verdicts.fail("completed_at", "TIME_ORDER", both & (completed < accepted))
    verdicts.fail("completed_at", "DURATION_TOO_LONG", both & (completed > accepted + DAY_US))

    _integer(verdicts, table, "premium_fen")
    return verdicts


def check_claims(table: pa.Table, partition: Partition, reference: Reference) -> Verdicts:
    verdicts = Verdicts(table.num_rows)
    _identifier(verdicts, table, "claim_id")
    _platform(verdicts, table, partition, reference)
    _identifier(verdicts, table, "order_id")
    _worker(verdicts, table, partition, reference)

    end_of_day = day_start_us(partition.day) + DAY_US
    incident_ok = _timestamp(verdicts, table, "incident_at")
    incident = verdicts.timestamps["incident_at"]
    verdicts.fail("incident_at", "OUTSIDE_PARTITION", incident_ok & (incident >= end_of_day))
    _area(verdicts, table, "incident_province_code", "incident_city_code", reference)
    _code(verdicts, table, "injury_type", INJURY_TYPES)
    _code(verdicts, table, "treatment", TREATMENTS)
    _integer(verdicts, table, "inpatient_days")
    _integer(verdicts, table, "medical_cost_fen")
    _boolean(verdicts, table, "disability_assessment")
    _boolean(verdicts, table, "liability_disputed")
    reported_ok = _timestamp(verdicts, table, "reported_at")
    reported = verdicts.timestamps["reported_at"]
    verdicts.fail("reported_at", "OUTSIDE_PARTITION", reported_ok & (reported >= end_of_day))
    verdicts.fail("reported_at", "TIME_ORDER", reported_ok & incident_ok & (reported < incident))

    account_ok = _required(verdicts, table, "payee_account")
    verdicts.fail("payee_account", "INVALID_BANK_ACCOUNT", account_ok & ~luhn_valid(table["payee_account"]))
    bank_ok = _required(verdicts, table, "payee_bank_code")
    verdicts.fail("payee_bank_code", "INVALID_BANK_CODE", bank_ok & ~matches(table["payee_bank_code"], BANK_CODE))
    return verdicts


def check_determinations(table: pa.Table, partition: Partition, reference: Reference) -> Verdicts:
    verdicts = Verdicts(table.num_rows)
    _identifier(verdicts, table, "claim_id")
    _platform(verdicts, table, partition, reference)
    decision_ok = _code(verdicts, table, "decision", DETERMINATION_DECISIONS)
    approved = decision_ok & _np(pc.equal(table["decision"], "approved"))
    amount_given = ~is_empty(table["approved_amount_fen"])
    verdicts.fail("approved_amount_fen", "MISSING_VALUE", approved & ~amount_given)
    valid_amount = matches(table["approved_amount_fen"], INTEGER) & (
        pc.utf8_length(table["approved_amount_fen"]).to_numpy(zero_copy_only=False) <= 18
    )
    verdicts.fail("approved_amount_fen", "INVALID_INTEGER", amount_given & ~valid_amount)
    as_int = pc.cast(pc.if_else(pa.array(valid_amount), table["approved_amount_fen"], "0"), pa.int64())
    verdicts.integers["approved_amount_fen"] = np.asarray(as_int.to_numpy(zero_copy_only=False), dtype=np.int64)
    decided_ok = _timestamp(verdicts, table, "decided_at")
    end_of_day = day_start_us(partition.day) + DAY_US
    verdicts.fail("decided_at", "OUTSIDE_PARTITION", decided_ok & (verdicts.timestamps["decided_at"] >= end_of_day))
    _required(verdicts, table, "decided_by", trim=True)
    return verdicts


def check_bank_returns(table: pa.Table, partition: Partition, reference: Reference) -> Verdicts:
    verdicts = Verdicts(table.num_rows)
    _identifier(verdicts, table, "batch_id")
    _identifier(verdicts, table, "end_to_end_id")
    status_ok = _code(verdicts, table, "status", BANK_RETURN_STATUSES)
    failed = status_ok & _np(pc.equal(table["status"], "failed"))
    verdicts.fail("failure_code", "MISSING_VALUE", failed & is_empty(table["failure_code"]))
    processed_ok = _timestamp(verdicts, table, "processed_at")
    end_of_day = day_start_us(partition.day) + DAY_US
    verdicts.fail("processed_at", "OUTSIDE_PARTITION", processed_ok & (verdicts.timestamps["processed_at"] >= end_of_day))
    return verdicts


def check_declarations(table: pa.Table, partition: Partition, reference: Reference) -> Verdicts:
    """A platform's monthly premium filing; ``partition.day`` is the first of the month."""
    verdicts = Verdicts(table.num_rows)
    platform_ok = _platform(verdicts, table, partition, reference)
    province_ok = _required(verdicts, table, "province_code")
    verdicts.fail("province_code", "INVALID_AREA_CODE",
                  province_ok & ~is_in(table["province_code"], set(reference.provinces)))
    industry_ok = _code(verdicts, table, "industry", INDUSTRIES)
    registered_industry = pc.index_in(table["platform_code"], value_set=pa.array(sorted(reference.platforms)))
    industries = pa.array([reference.platforms[code].industry for code in sorted(reference.platforms)])
    same_industry = _np(pc.equal(pc.take(industries, registered_industry), table["industry"]))
    verdicts.fail("industry", "INDUSTRY_MISMATCH", industry_ok & platform_ok & ~same_industry)
    month_ok = _required(verdicts, table, "month")
    verdicts.fail("month", "OUTSIDE_PARTITION", month_ok & ~_np(pc.equal(table["month"], f"{partition.day:%Y-%m}")))
    _integer(verdicts, table, "order_count")
    _integer(verdicts, table, "premium_fen")
    return verdicts


CHECKS = {
    "orders": (ORDER_COLUMNS, check_orders, "order_id"),
    "claims": (CLAIM_COLUMNS, check_claims, "claim_id"),
    "determinations": (DETERMINATION_COLUMNS, check_determinations, "claim_id"),
    "bank_returns": (BANK_RETURN_COLUMNS, check_bank_returns, "end_to_end_id"),
    "declarations": (DECLARATION_COLUMNS, check_declarations, "province_code"),
}
