"""claims.simulate: determinism, the contract's layout, and an exact expected outcome.

The expected outcome is checked against an independent, deliberately plain reading
of docs/validation-rules.md written here (``_validate_file``): every line the
simulator promises must be found, and no other.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from stdnum import luhn
from stdnum.iso7064 import mod_11_2

from claims.reference import Reference, load_reference
from claims.simulate import (
    CLAIM_COLUMNS,
    DECLARATION_COLUMNS,
    FIVE_DOCUMENTS,
    FORMATS,
    ORDER_COLUMNS,
    SimulationReport,
    id_check_chars,
    simulate_day,
    write_orders_csv,
)
from claims.store import LocalStore, open_store

MONTH_END = date(2025, 7, 31)
MID_MONTH = date(2025, 7, 15)
ORDERS = 3000
SHANGHAI = timezone(timedelta(hours=8))
IDENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DIGITS = re.compile(r"^[0-9]+$")
RESIDENT = re.compile(r"^[0-9]{17}[0-9X]$")
INDUSTRIES = {"ride_hailing", "instant_delivery", "freight"}
INJURIES = {"soft_tissue", "sprain", "abrasion", "laceration", "contusion", "fracture",
            "dislocation", "burn", "head_injury", "other"}
TREATMENTS = {"outpatient", "emergency", "inpatient"}


class RecordingStore(LocalStore):
    """A local store that remembers the order of writes."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes: list[str] = []

    def write_bytes(self, key: str, data: bytes) -> None:
        super().write_bytes(key, data)
        self.writes.append(key)


@dataclass
class Day:
    root: Path
    store: RecordingStore
    report: SimulationReport
    day: date


def _simulate(tmp: Path, day: date, **kwargs) -> Day:
    store = RecordingStore(tmp)
    report = simulate_day(day, store, orders=ORDERS, **kwargs)
    return Day(tmp, store, report, day)


@pytest.fixture(scope="module")
def reference() -> Reference:
    return load_reference()


@pytest.fixture(scope="module")
def month_end(tmp_path_factory) -> Day:
    return _simulate(tmp_path_factory.mktemp("month-end"), MONTH_END, seed=7)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Day:
    return _simulate(tmp_path_factory.mktemp("clean"), MID_MONTH, seed=3, defect_share=0.0)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- An independent reading of the validation rules --------------------------------


@dataclass
class Outcome:
    lines: list[tuple[int, str, str, str]] = field(default_factory=list)  # line, record_id, field, code
    loaded: list[dict[str, str]] = field(default_factory=list)
    file_code: str | None = None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _timestamp(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI)


def _resident_id_ok(value: str, day: date, ref: Reference) -> bool:
    if not RESIDENT.match(value):
        return False
    if value[:2] + "0000" not in ref.provinces and value[:2] not in ("81", "82", "83"):
        return False
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= birth <= day and mod_11_2.is_valid(value)


def _check_common(row, key, platform, day, ref, out):
    for name in (key, "order_id") if key != "order_id" else ("order_id",):
        if not row[name]:
            out.append((name, "MISSING_VALUE"))
        elif not IDENT.match(row[name]):
            out.append((name, "INVALID_IDENTIFIER"))
    if not row["platform_code"]:
        out.append(("platform_code", "MISSING_VALUE"))
    elif row["platform_code"] not in ref.platforms:
        out.append(("platform_code", "UNKNOWN_PLATFORM"))
    elif row["platform_code"] != platform:
        out.append(("platform_code", "PLATFORM_MISMATCH"))
    if not row["worker_id"]:
        out.append(("worker_id", "MISSING_VALUE"))
    elif not _resident_id_ok(row["worker_id"], day, ref):
        out.append(("worker_id", "INVALID_RESIDENT_ID"))
    if not row["worker_name"].strip(" "):
        out.append(("worker_name", "MISSING_VALUE"))


def _check_area(row, province_field, city_field, ref, day, out, pilot: bool):
    province = row[province_field]
    if not province:
        out.append((province_field, "MISSING_VALUE"))
    elif province not in ref.provinces:
        out.append((province_field, "INVALID_AREA_CODE"))
    elif pilot and province not in ref.pilot_provinces(day):
        out.append((province_field, "NOT_PILOT_PROVINCE"))
    city = row[city_field]
    if not city:
        out.append((city_field, "MISSING_VALUE"))
    elif city not in ref.prefectures:
        out.append((city_field, "INVALID_AREA_CODE"))
    elif city[:2] + "0000" != province:
        out.append((city_field, "CITY_NOT_IN_PROVINCE"))


def _check_order(row, platform, day, ref) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    _check_common(row, "order_id", platform, day, ref, out)
    industry = row["industry"]
    if not industry:
        out.append(("industry", "MISSING_VALUE"))
    elif industry not in INDUSTRIES:
        out.append(("industry", "UNKNOWN_CODE"))
    elif row["platform_code"] in ref.platforms and ref.platforms[row["platform_code"]].industry != industry:
        out.append(("industry", "INDUSTRY_MISMATCH"))
    _check_area(row, "province_code", "city_code", ref, day, out, pilot=True)
    accepted = None
    if not row["accepted_at"]:
        out.append(("accepted_at", "MISSING_VALUE"))
    elif (accepted := _timestamp(row["accepted_at"])) is None:
        out.append(("accepted_at", "INVALID_TIMESTAMP"))
    elif accepted.astimezone(SHANGHAI).date() != day:
        out.append(("accepted_at", "OUTSIDE_PARTITION"))
    status = row["status"]
    if not status:
        out.append(("status", "MISSING_VALUE"))
    elif status not in ("completed", "cancelled"):
        out.append(("status", "UNKNOWN_CODE"))
    if row["completed_at"]:
        completed = _timestamp(row["completed_at"])
        if completed is None:
            out.append(("completed_at", "INVALID_TIMESTAMP"))
        elif status == "cancelled":
            out.append(("completed_at", "STATUS_MISMATCH"))
        elif accepted is not None and completed < accepted:
            out.append(("completed_at", "TIME_ORDER"))
        elif accepted is not None and completed > accepted + timedelta(hours=24):
            out.append(("completed_at", "DURATION_TOO_LONG"))
    elif status == "completed":
        out.append(("completed_at", "STATUS_MISMATCH"))
    if not row["premium_fen"]:
        out.append(("premium_fen", "MISSING_VALUE"))
    elif not DIGITS.match(row["premium_fen"]):
        out.append(("premium_fen", "INVALID_INTEGER"))
    return out


def _check_claim(row, platform, day, ref) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    _check_common(row, "claim_id", platform, day, ref, out)
    incident = None
    if not row["incident_at"]:
        out.append(("incident_at", "MISSING_VALUE"))
    elif (incident := _timestamp(row["incident_at"])) is None:
        out.append(("incident_at", "INVALID_TIMESTAMP"))
    elif incident >= _end_of(day):
        out.append(("incident_at", "OUTSIDE_PARTITION"))
    _check_area(row, "incident_province_code", "incident_city_code", ref, day, out, pilot=False)
    for name, allowed in (("injury_type", INJURIES), ("treatment", TREATMENTS)):
        if not row[name]:
            out.append((name, "MISSING_VALUE"))
        elif row[name] not in allowed:
            out.append((name, "UNKNOWN_CODE"))
    for name in ("inpatient_days", "medical_cost_fen"):
        if not row[name]:
            out.append((name, "MISSING_VALUE"))
        elif not DIGITS.match(row[name]):
            out.append((name, "INVALID_INTEGER"))
    for name in ("disability_assessment", "liability_disputed"):
        if not row[name]:
            out.append((name, "MISSING_VALUE"))
        elif row[name] not in ("true", "false"):
            out.append((name, "INVALID_BOOLEAN"))
    if not row["reported_at"]:
        out.append(("reported_at", "MISSING_VALUE"))
    elif (reported := _timestamp(row["reported_at"])) is None:
        out.append(("reported_at", "INVALID_TIMESTAMP"))
    elif reported >= _end_of(day):
        out.append(("reported_at", "OUTSIDE_PARTITION"))
    elif incident is not None and reported < incident:
        out.append(("reported_at", "TIME_ORDER"))
    account = row["payee_account"]
    if not account:
        out.append(("payee_account", "MISSING_VALUE"))
    elif not (DIGITS.match(account) and 16 <= len(account) <= 19 and luhn.is_valid(account)):
        out.append(("payee_account", "INVALID_BANK_ACCOUNT"))
    if not row["payee_bank_code"]:
        out.append(("payee_bank_code", "MISSING_VALUE"))
    elif not re.match(r"^[0-9]{12}$", row["payee_bank_code"]):
        out.append(("payee_bank_code", "INVALID_BANK_CODE"))
    return out


def _records(key: str, data: bytes):
    """(line, record or None for a malformed one) pairs, or a whole-file reason code."""
    if key.endswith(".gz"):
        data = gzip.decompress(data)
    if key.endswith(".parquet"):
        table = pq.read_table(io.BytesIO(data))
        return table.column_names, [(i, {k: _text(v) for k, v in row.items()})
                                    for i, row in enumerate(table.to_pylist(), start=1)], None
    if key.endswith((".jsonl", ".jsonl.gz")):
        rows, names = [], []
        for i, line in enumerate(data.decode("utf-8").splitlines(), start=1):
            try:
                value = json.loads(line)
            except ValueError:
                value = None
            if not isinstance(value, dict):
                rows.append((i, None))
                continue
            names = names or list(value)
            rows.append((i, {k: _text(v) for k, v in value.items()}))
        return names, rows, None
    for codec in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        return [], [], "UNDECODABLE"
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    rows = []
    for values in reader:
        if len(values) != len(header):
            rows.append((reader.line_num, None))
        else:
            rows.append((reader.line_num, dict(zip(header, values, strict=True))))
    return header, rows, None


def _validate_file(key: str, data: bytes, day: date, ref: Reference) -> Outcome:
    dataset, platform_part = key.split("/")[:2]
    platform = platform_part.split("=", 1)[1]
    columns, record_key, check = (
        (ORDER_COLUMNS, "order_id", _check_order) if dataset == "orders"
        else (CLAIM_COLUMNS, "claim_id", _check_claim)
    )
    header, rows, file_code = _records(key, data)
    if file_code:
        return Outcome(lines=[(0, "", "", file_code)], file_code=file_code)
    missing = [c for c in columns if c not in header]
    if missing:
        return Outcome(lines=[(0, "", missing[0], "MISSING_COLUMN")], file_code="MISSING_COLUMN")
    outcome = Outcome()
    seen: set[str] = set()
    for line, row in rows:
        if row is None:
            outcome.lines.append((line, "", "", "MALFORMED_ROW"))
            continue
        failures = check(row, platform, day, ref)
        if row[record_key] in seen:
            failures.append((record_key, "DUPLICATE_IN_FILE"))
        seen.add(row[record_key])
        for name, code in failures:
            outcome.lines.append((line, row[record_key], name, code))
        if not failures:
            outcome.loaded.append(row)
    return outcome


def _validate_day(d: Day, ref: Reference) -> dict[str, Outcome]:
    """Every orders/claims file of the landing zone, in name order, with file dedup."""
    outcomes = {}
    hashes: set[str] = set()
    for key, data in _files(d.root).items():
        if not key.startswith(("orders/", "claims/")) or key.endswith("_SUCCESS"):
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in hashes:
            outcomes[key] = Outcome(lines=[(0, "", "", "DUPLICATE_FILE")], file_code="DUPLICATE_FILE")
            continue
        hashes.add(digest)
        outcomes[key] = _validate_file(key, data, d.day, ref)
    return outcomes


# --- Tests --------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path):
    first = simulate_day(MID_MONTH, open_store(str(tmp_path / "a")), orders=1500, seed=11)
    second = simulate_day(MID_MONTH, open_store(str(tmp_path / "b")), orders=1500, seed=11)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[key] == b[key] for key in a)
    first_dict, second_dict = first.to_dict(), second.to_dict()
    first_dict.pop("landing_url"), second_dict.pop("landing_url")
    assert first_dict == second_dict
    simulate_day(MID_MONTH, open_store(str(tmp_path / "c")), orders=1500, seed=12)
    other = _files(tmp_path / "c")
    assert any(other.get(key) != a[key] for key in a)  # the seed matters


def test_layout_follows_the_contract(month_end, reference):
    d = month_end
    keys = set(_files(d.root))
    platforms = [code for code, p in reference.platforms.items() if p.registered_from <= d.day]
    pattern = re.compile(
        r"^(orders|claims)/platform=([a-z0-9]+)/date=2025-07-31/"
        r"((orders|claims)-20250731-\d\d\.(csv\.gz|csv|jsonl\.gz|jsonl|parquet)|_SUCCESS)$"
        r"|^declarations/platform=([a-z0-9]+)/month=2025-07/(declaration\.csv|_SUCCESS)$"
    )
    assert all(pattern.match(key) for key in keys), sorted(k for k in keys if not pattern.match(k))
    for code in platforms:
        for dataset in ("orders", "claims"):
            prefix = f"{dataset}/platform={code}/date=2025-07-31/"
            partition = [w for w in d.store.writes if w.startswith(prefix)]
            assert partition[-1] == prefix + "_SUCCESS"  # the marker is written last
            assert partition.count(prefix + "_SUCCESS") == 1 and len(partition) >= 2
            assert (d.root / prefix / "_SUCCESS").read_bytes() == b""
    assert sorted(f.key for f in d.report.files) == sorted(k for k in keys if not k.endswith("_SUCCESS"))
    assert sorted(d.report.markers) == sorted(k for k in keys if k.endswith("_SUCCESS"))
    orders = d.report.files_of("orders")
    assert {f.format for f in orders} == set(FORMATS)
    assert Counter(f.format for f in orders).most_common(1)[0][0] == "csv.gz"
    assert all(1 <= sum(1 for f in orders if f.platform_code == code and f.role == "regular") <= 3
               for code in platforms)
    claim_formats = {f.format for f in d.report.files_of("claims")}
    assert {"csv", "jsonl", "parquet"} <= claim_formats


def test_files_exercise_the_readers(month_end):
    d = month_end
    orders = d.report.files_of("orders")
    styles = Counter(f.timestamps for f in orders if f.format != "parquet" and f.role == "regular")
    assert styles["offset"] > styles["naive"] >= 1 and styles["utc"] == 1
    headers = []
    for f in orders:
        data = (d.root / f.key).read_bytes()
        if f.format == "parquet":
            schema = pq.read_schema(io.BytesIO(data))
            assert schema.field("premium_fen").type == pa.int64()
            assert schema.field("order_id").type == pa.string()
            assert pa.types.is_timestamp(schema.field("accepted_at").type)
            assert (schema.field("accepted_at").type.tz is not None) == (f.timestamps == "aware")
        elif f.format in ("jsonl", "jsonl.gz") and f.role == "regular":
            text = gzip.decompress(data) if f.format.endswith(".gz") else data
            record = json.loads(text.decode("utf-8").splitlines()[0])
            assert isinstance(record["premium_fen"], int) and isinstance(record["worker_id"], str)
        elif f.role == "regular":
            text = (gzip.decompress(data) if f.format.endswith(".gz") else data).decode("utf-8")
            headers.append(text.split("\n", 1)[0].split(","))
            first = text.split("\n")[1].split(",")
            stamp = first[f.columns.index("accepted_at")]
            expected = {"offset": r"\+08:00$", "naive": r":\d\d$", "utc": r"Z$"}[f.timestamps]
            assert re.search(expected, stamp), (f.key, stamp)
    assert any(set(h) == set(ORDER_COLUMNS) and h != list(ORDER_COLUMNS) for h in headers)
    assert any(set(h) - set(ORDER_COLUMNS) for h in headers)
    aware = [f for f in orders if f.timestamps == "aware"]
    assert aware and any(f.timestamps == "naive" and f.format == "parquet" for f in orders)
    # Claims in JSONL use JSON booleans and numbers.
    jsonl = next(f for f in d.report.files_of("claims") if f.format == "jsonl")
    record = json.loads((d.root / jsonl.key).read_text("utf-8").splitlines()[0])
    assert isinstance(record["disability_assessment"], bool) and isinstance(record["medical_cost_fen"], int)


def test_expected_outcome_is_exact(month_end, reference):
    d = month_end
    outcomes = _validate_day(d, reference)
    for f in d.report.files:
        if f.dataset == "declarations":
            continue
        got = outcomes[f.key]
        assert sorted((g[0], g[2], g[3]) for g in got.lines) == sorted(
            (e.line, e.field, e.reason_code) for e in f.lines), f.key
        assert got.file_code == f.file_rejection, f.key
        for line in got.lines:
            if line[3] != "MALFORMED_ROW" and line[0] > 0:
                assert (line[0], line[1]) in {(e.line, e.record_id) for e in f.lines}
        assert len(got.loaded) == f.loaded_rows, f.key
        assert f.loaded_rows + f.rejected_rows == f.rows_in
    totals = d.report.totals()
    assert totals["rows_in"] == sum(f.rows_in for f in d.report.files)
    # Every row defect and file defect the validators know is there.
    assert set(totals["by_dataset"]["orders"]["rejections"]) == {
        "DUPLICATE_IN_FILE", "INVALID_RESIDENT_ID", "PLATFORM_MISMATCH", "TIME_ORDER", "UNKNOWN_CODE",
        "INVALID_AREA_CODE", "INVALID_INTEGER", "MISSING_VALUE", "MALFORMED_ROW", "MISSING_COLUMN",
        "UNDECODABLE", "DUPLICATE_FILE",
    }
    assert "INVALID_BANK_ACCOUNT" in totals["by_dataset"]["claims"]["rejections"]
    roles = {f.role for f in d.report.files}
    assert {"missing_column", "gb18030", "utf8_bom", "truncated", "undecodable", "redelivered"} <= roles
    json.dumps(d.report.to_dict())  # JSON-able


def test_row_defect_share(month_end):
    totals = month_end.report.totals()["by_dataset"]["orders"]
    row_defects = sum(n for code, n in totals["rejections"].items()
                      if code not in ("MALFORMED_ROW", "MISSING_COLUMN", "UNDECODABLE", "DUPLICATE_FILE"))
    regular_rows = sum(f.rows_in for f in month_end.report.files_of("orders") if f.role == "regular")
    assert row_defects == round(0.01 * (regular_rows - totals["rejections"]["DUPLICATE_IN_FILE"]))


def test_special_files(month_end):
    d = month_end
    by_role = {f.role: f for f in d.report.files_of("orders")}
    gb = (d.root / by_role["gb18030"].key).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        gb.decode("utf-8")
    names = [row["worker_name"] for row in csv.DictReader(io.StringIO(gb.decode("gb18030")))]
    assert names and all(re.search(r"[\u4e00-\u9fff]", name) for name in names)
    assert (d.root / by_role["utf8_bom"].key).read_bytes().startswith(b"\xef\xbb\xbf")
    bad = (d.root / by_role["undecodable"].key).read_bytes()
    for codec in ("utf-8", "gb18030"):
        with pytest.raises(UnicodeDecodeError):
            bad.decode(codec)
    # A byte-level line count (all a reader can do with it) gives the rows exactly.
    assert bad.endswith(b"\n") and bad.count(b"\n") == by_role["undecodable"].rows_in + 1
    truncated = (d.root / by_role["truncated"].key).read_bytes()
    assert not truncated.endswith(b"\n")
    copy = by_role["redelivered"]
    assert (d.root / copy.key).read_bytes() == (d.root / copy.duplicate_of).read_bytes()
    assert copy.key.rsplit("/", 1)[0] == copy.duplicate_of.rsplit("/", 1)[0]
    assert copy.key > copy.duplicate_of  # loaded after the original
    missing = by_role["missing_column"]
    header = (d.root / missing.key).read_text("utf-8").split("\n", 1)[0].split(",")
    assert set(ORDER_COLUMNS) - set(header) == {missing.lines[0].field}


def test_valid_rows_are_realistic(month_end, reference):
    d = month_end
    outcomes = _validate_day(d, reference)
    loaded = [row for f in d.report.files_of("orders") for row in outcomes[f.key].loaded]
    assert len(loaded) > 0.95 * ORDERS
    mismatches = 0
    hours = Counter()
    for row in loaded:
        assert mod_11_2.is_valid(row["worker_id"])
        accepted = _timestamp(row["accepted_at"]).astimezone(SHANGHAI)
        assert accepted.date() == d.day
        hours[accepted.hour] += 1
        assert row["city_code"] in reference.prefectures_of(row["province_code"], d.day)
        assert row["province_code"] in reference.pilot_provinces(d.day)
        assert row["industry"] == reference.platforms[row["platform_code"]].industry
        if row["status"] == "completed":
            minutes = (_timestamp(row["completed_at"]) - _timestamp(row["accepted_at"])).total_seconds() / 60
            assert 5 <= minutes <= 90
        rate = reference.premium_fen(row["platform_code"], row["industry"], row["province_code"], d.day)
        mismatches += int(row["premium_fen"]) != rate
    assert mismatches == d.report.totals()["by_dataset"]["orders"]["premium_mismatches"]
    assert 0 < mismatches < 0.02 * len(loaded)
    cancelled = sum(row["status"] == "cancelled" for row in loaded) / len(loaded)
    assert 0.02 < cancelled < 0.08
    # Lunch and dinner peaks over the afternoon lull and the night.
    assert hours[12] + hours[18] > 2 * (hours[15] + hours[16]) > 10 * (hours[3] + hours[4])
    # Realistic worker pools: ~20-40 orders per worker per day, some permits.
    for code in ("meituan", "didi"):
        rows = [r for r in loaded if r["platform_code"] == code]
        per_worker = len(rows) / len({r["worker_id"] for r in rows})
        assert 12 <= per_worker <= 50, (code, per_worker)
    provinces = Counter(row["province_code"] for row in loaded)
    assert provinces["440000"] > provinces["460000"] and provinces["320000"] > provinces["640000"]


def test_resident_id_check_chars_match_stdnum():
    import numpy as np

    rng = np.random.default_rng(0)
    bodies = np.array(["".join(map(str, rng.integers(0, 10, 17))) for _ in range(500)])
    for body, check in zip(bodies, id_check_chars(bodies), strict=True):
        assert check == mod_11_2.calc_check_digit(body)


def test_permits_and_abolished_counties_occur(tmp_path):
    report = simulate_day(MID_MONTH, open_store(str(tmp_path)), orders=20000, defect_share=0.0)
    ids = set()
    for f in report.files_of("orders"):
        data = (tmp_path / f.key).read_bytes()
        _, rows, _ = _records(f.key, data)
        ids.update(row["worker_id"] for _, row in rows)
    assert {i[:2] for i in ids} >= {"81", "82", "83"}
    assert any(i[:6] in ("110103", "110104", "310103", "310108", "320103", "320107", "440107") for i in ids)
    assert all(mod_11_2.is_valid(i) for i in ids)


def test_claims(month_end, reference):
    d = month_end
    outcomes = _validate_day(d, reference)
    orders = {row["order_id"]: row for f in d.report.files_of("orders") for row in outcomes[f.key].loaded}
    claims_files = d.report.files_of("claims")
    firsts = [f for f in claims_files if f.role == "regular"]
    for f in firsts:
        counts = d.report.platforms[f.platform_code]
        assert counts["claims"] == max(3, round(counts["orders"] * 40 / 1e6))
        distinct = {g[1] for g in outcomes[f.key].lines} | {r["claim_id"] for r in outcomes[f.key].loaded}
        assert len(distinct) == counts["claims"]
    loaded = [row for f in firsts for row in outcomes[f.key].loaded]
    small = 0
    for claim in loaded:
        order = orders[claim["order_id"]]
        assert claim["worker_id"] == order["worker_id"] and claim["worker_name"] == order["worker_name"]
        assert claim["incident_province_code"] == order["province_code"]
        assert claim["incident_city_code"] == order["city_code"]
        assert _timestamp(order["accepted_at"]) <= _timestamp(claim["incident_at"]) <= _timestamp(order["completed_at"])
        assert _timestamp(claim["incident_at"]) <= _timestamp(claim["reported_at"]) <= _end_of(d.day)
        assert luhn.is_valid(claim["payee_account"]) and len(claim["payee_bank_code"]) == 12
        if claim["treatment"] != "inpatient" and claim["liability_disputed"] == "false" \
                and claim["documents"] == ";".join(FIVE_DOCUMENTS):
            small += 1
            assert claim["inpatient_days"] == "0"
            assert 10_000 <= int(claim["medical_cost_fen"]) <= 250_100
    assert small > 0.6 * len(loaded)
    assert any(c["treatment"] == "inpatient" and int(c["inpatient_days"]) > 0 for c in loaded)
    assert any(c["disability_assessment"] == "true" for c in loaded)
    assert any(c["liability_disputed"] == "true" for c in loaded)
    assert any(c["documents"] != ";".join(FIVE_DOCUMENTS) and "discharge_summary" not in c["documents"]
               for c in loaded)
    # One amendment: a later file of the same partition, a changed field of an existing claim.
    [amendment] = [f for f in claims_files if f.role == "amendment"]
    [original] = [f for f in firsts if f.platform_code == amendment.platform_code]
    assert amendment.key > original.key and amendment.loaded_rows == 1 and not amendment.lines
    [changed] = outcomes[amendment.key].loaded
    assert changed["claim_id"] == d.report.amended_claims[0]
    [before] = [r for r in outcomes[original.key].loaded if r["claim_id"] == changed["claim_id"]]
    assert [k for k in CLAIM_COLUMNS if before[k] != changed[k]] == ["medical_cost_fen"]


def test_no_defects_when_share_is_zero(clean, reference):
    d = clean
    totals = d.report.totals()
    assert totals["rejections"] == {} and totals["file_rejections"] == {}
    assert totals["loaded_rows"] == totals["rows_in"]
    assert {f.role for f in d.report.files} == {"regular", "amendment"}
    for f in d.report.files_of("orders"):
        assert f.encoding in ("utf-8", "binary")
    outcomes = _validate_day(d, reference)
    assert all(not o.lines for o in outcomes.values())
    assert sum(len(o.loaded) for k, o in outcomes.items() if k.startswith("orders/")) == ORDERS
    assert {f.format for f in d.report.files_of("orders")} == set(FORMATS)


def test_declarations_only_at_month_end(month_end, clean, reference):
    assert not clean.report.month_end
    assert not clean.report.files_of("declarations")
    assert not list(clean.root.glob("declarations"))
    d = month_end
    declarations = d.report.files_of("declarations")
    assert {f.platform_code for f in declarations} == set(d.report.platforms)
    outcomes = _validate_day(d, reference)
    for f in declarations:
        rows = list(csv.DictReader(io.StringIO((d.root / f.key).read_text("utf-8"))))
        assert list(rows[0]) == list(DECLARATION_COLUMNS)
        assert (d.root / f.key).parent.joinpath("_SUCCESS").exists()
        assert len(rows) == f.rows_in == len({r["province_code"] for r in rows})
        assert all(r["month"] == "2025-07" and r["platform_code"] == f.platform_code for r in rows)
        provinces = Counter(
            row["province_code"]
            for o in d.report.files_of("orders") if o.platform_code == f.platform_code
            for row in outcomes[o.key].loaded
        )
        assert set(provinces) <= {r["province_code"] for r in rows}
        total = sum(int(r["order_count"]) for r in rows)
        assert total == d.report.platforms[f.platform_code]["orders"] * 31


def test_write_orders_csv(tmp_path, reference):
    path = tmp_path / "orders.csv"
    size = write_orders_csv(path, MID_MONTH, 1234, seed=5, platform_code="didi")
    assert size == path.stat().st_size
    text = path.read_text("utf-8")
    lines = text.splitlines()
    assert lines[0].split(",") == list(ORDER_COLUMNS)
    assert len(lines) == 1235
    key = "orders/platform=didi/date=2025-07-15/orders.csv"
    outcome = _validate_file(key, path.read_bytes(), MID_MONTH, reference)
    assert not outcome.lines and len(outcome.loaded) == 1234
    assert len({row["order_id"] for row in outcome.loaded}) == 1234
    again = tmp_path / "again.csv"
    write_orders_csv(again, MID_MONTH, 1234, seed=5, platform_code="didi")
    assert again.read_bytes() == path.read_bytes()
    empty = tmp_path / "empty.csv"
    write_orders_csv(empty, MID_MONTH, 0)
    assert empty.read_text("utf-8").splitlines() == [",".join(ORDER_COLUMNS)]
