"""Simulated landing data: one business day of every platform's deliveries.

``simulate_day`` writes what the pilot platforms would drop into the landing zone
for a day (CONTRACT.md): orders in every supported format, claims with one
amendment, monthly declarations at month end, and, on request, the row and file
defects the validators know (docs/validation-rules.md). It returns a
``SimulationReport`` with the exact expected outcome of ingesting every file, so
tests can assert counts instead of guessing them.

``write_orders_csv`` writes one big valid orders CSV for benchmarks.

Everything is derived from ``(seed, day)``: the same arguments give byte-identical
files. Row data is generated with numpy/pyarrow vectors; only the few claims and the
few defective rows are handled one by one.

Naming scheme (``{YYYYMMDD}`` is the partition date without dashes)::

    orders/platform={code}/date={YYYY-MM-DD}/orders-{YYYYMMDD}-{NN}.{ext}   NN = 01, 02, ...
    orders/platform={code}/date={YYYY-MM-DD}/_SUCCESS                       written last
    claims/platform={code}/date={YYYY-MM-DD}/claims-{YYYYMMDD}-01.{ext}     the day's claims
    claims/platform={code}/date={YYYY-MM-DD}/claims-{YYYYMMDD}-02.{ext}     an amendment (one platform a day)
    claims/platform={code}/date={YYYY-MM-DD}/_SUCCESS
    declarations/platform={code}/month={YYYY-MM}/declaration.csv            last day of a month only
    declarations/platform={code}/month={YYYY-MM}/_SUCCESS

In an orders partition the regular files come first (01..03, consecutive slices of
the day), then the small special files of the day's file defects (always ``.csv``),
and a re-delivered copy (of the partition's smallest regular file) always takes the
highest number, so it sorts after the file it repeats. File names say nothing about
defects: the report does.
"""

from __future__ import annotations

import calendar
import csv
import functools
import gzip
import io
import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from stdnum import luhn

from claims.reference import Platform, Reference, load_reference
from claims.store import Store

__all__ = [
    "CLAIM_COLUMNS",
    "DECLARATION_COLUMNS",
    "FIVE_DOCUMENTS",
    "FORMATS",
    "ORDER_COLUMNS",
    "ExpectedLine",
    "FileReport",
    "SimulationReport",
    "id_check_chars",
    "simulate_day",
    "write_orders_csv",
]

ORDER_COLUMNS = (
    "order_id", "platform_code", "worker_id", "worker_name", "industry",
    "province_code", "city_code", "accepted_at", "completed_at", "status", "premium_fen",
)
CLAIM_COLUMNS = (
    "claim_id", "platform_code", "order_id", "worker_id", "worker_name", "incident_at",
    "incident_province_code", "incident_city_code", "injury_type", "treatment",
    "inpatient_days", "medical_cost_fen", "disability_assessment", "liability_disputed",
    "documents", "reported_at", "payee_account", "payee_bank_code",
)
DECLARATION_COLUMNS = (
    "platform_code", "province_code", "industry", "month", "order_count", "premium_fen",
)
FORMATS = ("csv.gz", "csv", "jsonl", "jsonl.gz", "parquet")
FIVE_DOCUMENTS = ("application_form", "consent", "diagnosis", "receipts", "liability_determination")
MARKER = "_SUCCESS"

# Row defects, in the order they are drawn. Each defective row carries exactly one.
ORDER_DEFECTS = (
    "DUPLICATE_IN_FILE", "INVALID_RESIDENT_ID", "PLATFORM_MISMATCH", "TIME_ORDER",
    "UNKNOWN_CODE", "INVALID_AREA_CODE", "INVALID_INTEGER", "MISSING_VALUE",
)
ORDER_DEFECT_FIELD = {
    "DUPLICATE_IN_FILE": "order_id",
    "INVALID_RESIDENT_ID": "worker_id",
    "PLATFORM_MISMATCH": "platform_code",
    "TIME_ORDER": "completed_at",
    "UNKNOWN_CODE": "industry",
    "INVALID_AREA_CODE": "city_code",
    "INVALID_INTEGER": "premium_fen",
    "MISSING_VALUE": "worker_name",
}
CLAIM_DEFECTS = (
    "INVALID_BANK_ACCOUNT", "INVALID_RESIDENT_ID", "MISSING_VALUE", "UNKNOWN_CODE",
    "TIME_ORDER", "INVALID_BANK_CODE", "DUPLICATE_IN_FILE",
)
CLAIM_DEFECT_FIELD = {
    "INVALID_BANK_ACCOUNT": "payee_account",
    "INVALID_RESIDENT_ID": "worker_id",
    "MISSING_VALUE": "worker_name",
    "UNKNOWN_CODE": "injury_type",
    "TIME_ORDER": "reported_at",
    "INVALID_BANK_CODE": "payee_bank_code",
    "DUPLICATE_IN_FILE": "claim_id",
}
# Whole-file defects, one of each per day when defect_share > 0.
FILE_DEFECTS = ("missing_column", "gb18030", "utf8_bom", "truncated", "undecodable", "redelivered")
MISSING_COLUMN_NAME = "premium_fen"

# --- Simulation parameters (plausible shapes, not business facts) -----------------

CANCEL_SHARE = 0.05
PREMIUM_MISMATCH_SHARE = 0.005
ORDERS_PER_WORKER = (20.0, 40.0)
PLATFORM_WEIGHTS = {
    "meituan": 0.30, "eleme": 0.15, "didi": 0.17, "caocao": 0.04, "dada": 0.06,
    "shansong": 0.03, "sfcity": 0.05, "huolala": 0.08, "kuaigou": 0.02,
    "didifreight": 0.03, "manbang": 0.04,
}
DEFAULT_PLATFORM_WEIGHT = 0.03
PROVINCE_WEIGHTS = {
    "440000": 6.0, "320000": 5.0, "110000": 4.0, "310000": 4.0, "330000": 2.5,
    "510000": 2.0, "370000": 2.0, "500000": 1.5, "420000": 1.5,
}
# Order acceptances per hour of the day (Asia/Shanghai): lunch and dinner peaks.
_HOURLY = {
    "instant_delivery": [0.4, 0.25, 0.15, 0.1, 0.1, 0.2, 0.6, 1.2, 1.6, 1.4, 2.4, 6.5,
                         6.0, 2.6, 1.4, 1.3, 2.0, 4.5, 5.5, 4.8, 2.6, 1.8, 1.2, 0.7],
    "ride_hailing": [0.6, 0.4, 0.25, 0.15, 0.15, 0.3, 1.0, 2.4, 2.8, 1.8, 1.6, 3.2,
                     3.4, 1.8, 1.5, 1.6, 2.0, 3.8, 4.4, 3.8, 2.6, 2.2, 1.6, 1.0],
    "freight": [0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 1.6, 2.4, 2.6, 2.6, 3.4,
                3.2, 2.4, 2.4, 2.4, 2.4, 3.2, 3.4, 2.6, 1.4, 0.8, 0.4, 0.2],
}
_TIME_STYLE_SUFFIX = {"offset": "+08:00", "naive": "", "utc": "Z"}
_SHANGHAI_SECONDS = 8 * 3600

_SURNAMES = (
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 林 高 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 "
    "彭 曾 肖 田 董 潘 袁 蔡 蒋 余 于 杜 叶 程 魏 苏 吕 丁 任 卢 姚 沈 钟 姜 崔 谭 陆 范 汪 廖 "
    "石 金 韦 贾 夏 付 方 邹 熊 白 孟 秦 邱 侯 江 尹 薛 闫 段 雷 龙 黎 史 陶 贺 毛 郝 顾 龚 邵 "
    "万 覃 武 欧阳 司马 诸葛"
).split()
_SURNAME_WEIGHTS = np.array(
    [7.1, 7.0, 6.7, 5.4, 4.5, 3.1, 2.2, 2.0, 1.9, 1.9, 1.5, 1.5, 1.4, 1.3, 1.3, 1.1, 1.1,
     1.0, 1.0, 0.9, 0.8, 0.8, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6]
    + [0.4] * 30 + [0.2] * (len(_SURNAMES) - 63) + [0.05, 0.02, 0.01]
)
_MALE_GIVEN = (
    "伟 强 磊 军 勇 杰 涛 斌 超 明 刚 平 辉 鹏 华 飞 鑫 波 宇 浩 凯 健 俊 帆 帅 旭 宁 龙 林 阳 "
    "建 国 志 文 海 东 亮 成 峰 晨 博 昊 然 轩 宏 锋 喆 德 福 春 永"
).split()
_FEMALE_GIVEN = (
    "芳 娜 敏 静 丽 艳 娟 霞 秀 玲 桂 英 红 燕 萍 雪 琳 婷 倩 欣 慧 颖 佳 悦 梦 琪 晶 蕾 瑶 璐 "
    "丹 莉 兰 凤 洁 梅 琴 云 思 雨 涵 妍 怡 春 小"
).split()
# Names that stress encodings: a middle dot, CJK Extension A and B characters.
_SPECIAL_NAMES = (
    "阿卜杜热依木·买买提", "古丽娜尔·吐尔逊", "扎西·多吉", "艾尔肯·阿不都", "巴特尔·朝克图",
    "王䶮", "陈𠮷", "李喆", "赵昇",
)
_SPECIAL_NAME_SHARE = 0.01
# Resident IDs: county part drawn from common district/county numbers of a prefecture.
_COUNTY_SUFFIXES = ("01", "02", "03", "04", "05", "06", "07", "11", "21", "22", "23", "24", "25", "81")
# County codes that were abolished (districts merged); only the province and the
# check character of such an ID are checked, so such IDs stay valid.
_ABOLISHED_COUNTIES = ("110103", "110104", "310103", "310108", "320103", "320107", "440107")
_PERMIT_AREAS = ("810000", "820000", "830000")
_PERMIT_SHARE = 0.015
_ABOLISHED_SHARE = 0.015
_BIRTH_FROM = np.datetime64("1965-01-01")
_BIRTH_TO = np.datetime64("2004-12-31")
_ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))
# (card BIN, card length, bank code prefix of the 12-digit branch code)
_BANKS = (
    ("622202", 19, "102"), ("621226", 19, "102"), ("622848", 19, "103"),
    ("621661", 19, "104"), ("621700", 19, "105"), ("622700", 19, "105"),
    ("622588", 16, "308"), ("621483", 16, "308"), ("622262", 19, "301"),
)
_UNKNOWN_INDUSTRIES = ("courier", "express", "food_delivery", "taxi")
_UNKNOWN_INJURIES = ("whiplash", "bruise", "injury", "knee")
_EXTRA_COLUMN = "app_version"

# Format plan of the regular order files across all platforms of a day: the first
# six cover every format; most files are .csv.gz.
_FORMAT_CYCLE = (
    "csv.gz", "csv", "jsonl", "csv.gz", "parquet", "jsonl.gz",
    "csv.gz", "parquet", "csv.gz", "csv", "csv.gz", "csv.gz",
)
_CSV_FAMILY = ("csv", "csv.gz")
_JSONL_FAMILY = ("jsonl", "jsonl.gz")
_CHUNK_ROWS = 500_000


# --- Report ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedLine:
    """One line the rejections file should carry for a source file.

    ``line`` is the physical CSV line (header = 1), the 1-based record number in
    JSONL/Parquet, or 0 for a whole-file rejection. ``record_id`` is the row's key
    (order_id / claim_id) where the row has one, else empty.
    """

    line: int
    record_id: str
    field: str
    reason_code: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "record_id": self.record_id, "field": self.field,
                "reason_code": self.reason_code}


@dataclass
class FileReport:
    """A file the simulator wrote and what ingesting it must give.

    ``rows_in`` counts the data records physically written (CSV data lines, the
    truncated last one included; JSONL lines; Parquet rows). For a file rejected
    whole (``file_rejection``), every row counts as rejected by the one line-0
    rejection: ``loaded_rows`` is 0 and ``rejections`` is ``{code: 1}``.
    """

    key: str
    dataset: str  # orders | claims | declarations
    platform_code: str
    partition: str  # YYYY-MM-DD, or YYYY-MM for declarations
    format: str  # csv | csv.gz | jsonl | jsonl.gz | parquet
    encoding: str  # utf-8 | utf-8-sig | gb18030 | utf-16 | binary (parquet)
    timestamps: str  # offset | naive | utc (text); naive | aware (parquet); "" none
    rows_in: int
    columns: list[str]
    lines: list[ExpectedLine] = field(default_factory=list)
    file_rejection: str | None = None
    premium_mismatches: int = 0  # loaded orders whose premium differs from the rate
    role: str = "regular"  # regular, amendment, or the file defect it carries
    duplicate_of: str | None = None

    @property
    def rows(self) -> int:
        return self.rows_in

    @property
    def rejected_rows(self) -> int:
        if self.file_rejection:
            return self.rows_in
        return len({line.line for line in self.lines})

    @property
    def loaded_rows(self) -> int:
        return self.rows_in - self.rejected_rows

    @property
    def rejections(self) -> dict[str, int]:
        return dict(sorted(Counter(line.reason_code for line in self.lines).items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "dataset": self.dataset,
            "platform_code": self.platform_code,
            "partition": self.partition,
            "format": self.format,
            "encoding": self.encoding,
            "timestamps": self.timestamps,
            "role": self.role,
            "duplicate_of": self.duplicate_of,
            "columns": list(self.columns),
            "rows_in": self.rows_in,
            "loaded_rows": self.loaded_rows,
            "rejected_rows": self.rejected_rows,
            "rejections": self.rejections,
            "file_rejection": self.file_rejection,
            "premium_mismatches": self.premium_mismatches,
            "lines": [line.to_dict() for line in self.lines],
        }


@dataclass
class SimulationReport:
    """Everything ``simulate_day`` wrote and the exact expected ingestion outcome."""

    day: date
    seed: int
    landing_url: str
    files: list[FileReport] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)
    orders_generated: int = 0  # distinct orders (the platforms' truth, before defects)
    claims_generated: int = 0  # distinct claim_ids
    amended_claims: list[str] = field(default_factory=list)
    month_end: bool = False
    # Per platform code: {"orders": distinct orders generated, "claims": distinct claim_ids}.
    platforms: dict[str, dict[str, int]] = field(default_factory=dict)

    def file(self, key: str) -> FileReport:
        for report in self.files:
            if report.key == key:
                return report
        raise KeyError(key)

    def files_of(self, dataset: str) -> list[FileReport]:
        return [report for report in self.files if report.dataset == dataset]

    def totals(self) -> dict[str, Any]:
        def summary(reports: list[FileReport]) -> dict[str, Any]:
            rejections: Counter[str] = Counter()
            for report in reports:
                rejections.update(report.rejections)
            return {
                "files": len(reports),
                "rows_in": sum(r.rows_in for r in reports),
                "loaded_rows": sum(r.loaded_rows for r in reports),
                "rejected_rows": sum(r.rejected_rows for r in reports),
                "rejections": dict(sorted(rejections.items())),
                "file_rejections": dict(sorted(Counter(
                    r.file_rejection for r in reports if r.file_rejection).items())),
                "premium_mismatches": sum(r.premium_mismatches for r in reports),
            }

        result = summary(self.files)
        result["by_dataset"] = {
            dataset: summary(self.files_of(dataset))
            for dataset in ("orders", "claims", "declarations")
        }
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "seed": self.seed,
            "landing_url": self.landing_url,
            "month_end": self.month_end,
            "orders_generated": self.orders_generated,
            "claims_generated": self.claims_generated,
            "amended_claims": list(self.amended_claims),
            "platforms": {code: dict(counts) for code, counts in self.platforms.items()},
            "markers": list(self.markers),
            "totals": self.totals(),
            "files": [report.to_dict() for report in self.files],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


# --- Reference-derived geography ----------------------------------------------------


@dataclass(frozen=True)
class _Geography:
    provinces: np.ndarray  # pilot province codes on the day
    weights: np.ndarray
    cities: tuple[np.ndarray, ...]  # prefecture codes valid on the day, per province
    city_weights: tuple[np.ndarray, ...]
    all_prefectures: np.ndarray  # every prefecture code of a province-level code (ID areas)
    abolished: np.ndarray  # abolished county codes of a known province


def _geography(reference: Reference, day: date) -> _Geography:
    provinces = []
    for code in sorted(reference.pilot_provinces(day)):
        if reference.prefectures_of(code, day):
            provinces.append(code)
    if not provinces:
        raise ValueError(f"no pilot province with prefectures on {day}")
    weights = np.array([PROVINCE_WEIGHTS.get(code, 1.0) for code in provinces])
    cities = []
    city_weights = []
    for code in provinces:
        codes = np.array(reference.prefectures_of(code, day))
        w = np.ones(len(codes))
        w[0] = 3.0  # the capital (first code) is the busiest
        cities.append(codes)
        city_weights.append(w / w.sum())
    known = set(reference.provinces)
    all_prefectures = np.array(sorted(
        code for code, pref in reference.prefectures.items() if pref.province_code in known
    ))
    abolished = np.array(
        [code for code in _ABOLISHED_COUNTIES if code[:2] + "0000" in known] or ["320103"]
    )
    return _Geography(
        np.array(provinces), weights / weights.sum(), tuple(cities), tuple(city_weights),
        all_prefectures, abolished,
    )


def _rates(reference: Reference, platform: Platform, geo: _Geography, day: date) -> np.ndarray:
    return np.array([
        reference.premium_fen(platform.code, platform.industry, code, day) or 0
        for code in geo.provinces
    ], dtype=np.int64)


def _same_industry_peer(platform: Platform, platforms: list[Platform]) -> str | None:
    peers = sorted(p.code for p in platforms if p.industry == platform.industry and p.code != platform.code)
    return peers[0] if peers else None


# --- Vectorised building blocks -----------------------------------------------------


def _cat(*parts: Any) -> np.ndarray:
    result = np.asarray(parts[0]).astype(str)
    for part in parts[1:]:
        result = np.strings.add(result, np.asarray(part).astype(str))
    return result


def id_check_chars(body17: np.ndarray) -> np.ndarray:
    """The GB 11643 (ISO 7064 MOD 11-2) check characters of 17-digit strings."""
    body17 = np.asarray(body17).astype("U17")
    if body17.size == 0:
        return np.array([], dtype="U1")
    digits = np.frombuffer(body17.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17)
    total = (digits.astype(np.int64) - 48) @ _ID_WEIGHTS
    return _ID_CHECK[total % 11]


def _wrong_check_char(worker_id: str, rng: np.random.Generator) -> str:
    right = worker_id[17]
    choices = [c for c in "0123456789X" if c != right]
    return worker_id[:17] + choices[int(rng.integers(len(choices)))]


@dataclass(frozen=True)
class _Workers:
    worker_id: np.ndarray  # U18
    name: np.ndarray  # str
    province_idx: np.ndarray  # index into geography.provinces (where they work)
    city: np.ndarray  # U6 prefecture where they work
    weight: np.ndarray  # share of the platform's orders

    def __len__(self) -> int:
        return len(self.worker_id)


def _names(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    n = len(male)
    surnames = np.array(_SURNAMES)[rng.choice(len(_SURNAMES), n, p=_SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum())]
    male_given = np.array(_MALE_GIVEN)
    female_given = np.array(_FEMALE_GIVEN)
    first = np.where(male, male_given[rng.integers(len(male_given), size=n)],
                     female_given[rng.integers(len(female_given), size=n)])
    second = np.where(male, male_given[rng.integers(len(male_given), size=n)],
                      female_given[rng.integers(len(female_given), size=n)])
    second = np.where(rng.random(n) < 0.3, "", second)  # single-character given names
    names = _cat(surnames, first, second)
    special = rng.random(n) < _SPECIAL_NAME_SHARE
    if special.any():
        names = names.astype(object)
        names[special] = np.array(_SPECIAL_NAMES, dtype=object)[
            rng.integers(len(_SPECIAL_NAMES), size=int(special.sum()))]
        names = names.astype(str)
    return names


def _worker_pool(rng: np.random.Generator, n_workers: int, geo: _Geography) -> _Workers:
    n = max(1, int(n_workers))
    province_idx = rng.choice(len(geo.provinces), size=n, p=geo.weights)
    city = np.empty(n, dtype="U6")
    for j in range(len(geo.provinces)):
        where = np.flatnonzero(province_idx == j)
        if len(where):
            city[where] = rng.choice(geo.cities[j], size=len(where), p=geo.city_weights[j])
    # Home area of the ID: half work where they were born, half are migrants.
    migrant = rng.random(n) < 0.5
    home = np.where(migrant, geo.all_prefectures[rng.integers(len(geo.all_prefectures), size=n)], city)
    area = _cat(np.strings.slice(home, 0, 4), np.array(_COUNTY_SUFFIXES)[rng.integers(len(_COUNTY_SUFFIXES), size=n)])
    kind = rng.random(n)
    permit = kind < _PERMIT_SHARE
    abolished = (kind >= _PERMIT_SHARE) & (kind < _PERMIT_SHARE + _ABOLISHED_SHARE)
    area = np.where(permit, np.array(_PERMIT_AREAS)[rng.integers(len(_PERMIT_AREAS), size=n)], area)
    area = np.where(abolished, geo.abolished[rng.integers(len(geo.abolished), size=n)], area)
    span = int((_BIRTH_TO - _BIRTH_FROM).astype(int)) + 1
    birth = np.strings.replace(
        np.datetime_as_string(_BIRTH_FROM + rng.integers(0, span, size=n), unit="D"), "-", "")
    sequence = rng.integers(1, 1000, size=n)
    ids = np.empty(n, dtype="U18")
    todo = np.arange(n)
    while len(todo):
        body = _cat(area[todo], birth[todo], np.strings.zfill(sequence[todo].astype(str), 3))
        ids[todo] = _cat(body, id_check_chars(body))
        _, first = np.unique(ids, return_index=True)
        repeated = np.setdiff1d(np.arange(n), first)
        sequence[repeated] = rng.integers(1, 1000, size=len(repeated))
        todo = repeated
    male = sequence % 2 == 1
    weight = rng.gamma(2.0, 1.0, size=n)
    return _Workers(ids, _names(rng, male), province_idx, city, weight / weight.sum())


@dataclass(frozen=True)
class _Draws:
    worker: np.ndarray  # index into the pool
    accepted: np.ndarray  # seconds after the day's 00:00 Asia/Shanghai
    completed: np.ndarray  # seconds after the day's 00:00 (meaningless when cancelled)
    cancelled: np.ndarray
    premium: np.ndarray
    rate: np.ndarray

    def take(self, order: np.ndarray) -> _Draws:
        return _Draws(*(getattr(self, name)[order] for name in
                        ("worker", "accepted", "completed", "cancelled", "premium", "rate")))


def _draw_orders(rng: np.random.Generator, n: int, industry: str, pool: _Workers,
                 rates: np.ndarray) -> _Draws:
    hourly = np.array(_HOURLY.get(industry, _HOURLY["instant_delivery"]))
    worker = rng.choice(len(pool), size=n, p=pool.weight)
    accepted = rng.choice(24, size=n, p=hourly / hourly.sum()) * 3600 + rng.integers(0, 3600, size=n)
    cancelled = rng.random(n) < CANCEL_SHARE
    completed = accepted + rng.integers(5 * 60, 90 * 60 + 1, size=n)
    rate = rates[pool.province_idx[worker]]
    premium = rate.copy()
    mismatch = np.flatnonzero(rng.random(n) < PREMIUM_MISMATCH_SHARE)
    if len(mismatch):
        charged_nothing = (rng.random(len(mismatch)) < 0.5) & (rate[mismatch] > 0)
        premium[mismatch] = np.where(charged_nothing, 0,
                                     rate[mismatch] + rng.integers(1, 10, size=len(mismatch)))
    return _Draws(worker, accepted.astype(np.int64), completed.astype(np.int64), cancelled, premium, rate)


def _sequence_ids(prefix: str, start: int, n: int, width: int) -> pa.Array:
    numbers = pa.array(np.arange(start, start + n, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width=width, padding="0"), "")


@functools.cache
def _clock() -> pa.Array:
    """"HH:MM:SS" for every second of a day."""
    two = pa.array([f"{i:02d}" for i in range(60)])
    second = np.arange(86400)
    return pc.binary_join_element_wise(
        two.take(pa.array(second // 3600)), two.take(pa.array(second // 60 % 60)),
        two.take(pa.array(second % 60)), ":")


@functools.lru_cache(maxsize=16)
def _clock_table(day: date, style: str) -> pa.Array:
    """Rendered timestamps for every second from D-2 00:00 to D+2 00:00 (wall clock)."""
    suffix = _TIME_STYLE_SUFFIX[style]
    return pa.concat_arrays([
        pc.binary_join_element_wise(f"{day + timedelta(days=k)}T", _clock(), suffix, "")
        for k in (-2, -1, 0, 1)
    ])


def _timestamp_text(offsets: np.ndarray, day: date, style: str, missing: np.ndarray | None = None) -> pa.Array:
    """ISO 8601 text of times given as seconds after ``day`` 00:00 Asia/Shanghai."""
    shift = -_SHANGHAI_SECONDS if style == "utc" else 0
    index = np.asarray(offsets, dtype=np.int64) + shift + 2 * 86400
    if len(index) and (index.min() < 0 or index.max() >= 4 * 86400):
        raise ValueError("time outside the rendered window")
    return _clock_table(day, style).take(pa.array(index, mask=missing))


def _day_epoch(day: date) -> int:
    """Epoch seconds of ``day`` 00:00 as wall clock (naive)."""
    return (day - date(1970, 1, 1)).days * 86400


def _timestamp_array(offsets: np.ndarray, day: date, aware: bool, missing: np.ndarray | None = None) -> pa.Array:
    wall = (_day_epoch(day) + np.asarray(offsets, dtype=np.int64)) * 1000
    if aware:
        return pa.array(wall - _SHANGHAI_SECONDS * 1000, type=pa.timestamp("ms", tz="Asia/Shanghai"), mask=missing)
    return pa.array(wall, type=pa.timestamp("ms"), mask=missing)


def _local_iso(day: date, offset: int) -> str:
    return (datetime.combine(day, time()) + timedelta(seconds=int(offset))).isoformat() + "+08:00"


# --- Encoders -----------------------------------------------------------------------

_CSV_OPTIONS = pacsv.WriteOptions(quoting_style="none", quoting_header="none")


def _csv_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, _CSV_OPTIONS)
    return buffer.getvalue()


def _json_escape(array: pa.Array) -> pa.Array:
    array = pc.replace_substring(array, "\\", "\\\\")
    return pc.replace_substring(array, '"', '\\"')


def _jsonl_bytes(table: pa.Table) -> bytes:
    """JSON Lines: strings as JSON strings, integers as numbers, booleans, nulls."""
    if table.num_rows == 0:
        return b""
    parts: list[Any] = []
    for i, (name, column) in enumerate(zip(table.column_names, table.columns, strict=True)):
        column = column.combine_chunks()
        parts.append(("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":")
        if pa.types.is_string(column.type):
            value = pc.binary_join_element_wise('"', _json_escape(column), '"', "")
        elif pa.types.is_boolean(column.type):
            value = pc.if_else(column, "true", "false")
        elif pa.types.is_integer(column.type):
            value = column.cast(pa.string())
        else:
            raise TypeError(f"no JSON rendering for {column.type}")
        parts.append(pc.fill_null(value, "null"))
    parts.append("}\n")
    lines = pc.binary_join_element_wise(*parts, "")
    return "".join(lines.to_pylist()).encode("utf-8")


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


# --- The day's orders ---------------------------------------------------------------


@dataclass
class _OrderFile:
    name: str
    fmt: str
    style: str  # offset | naive | utc | naive | aware
    role: str  # regular or a FILE_DEFECTS entry
    rows: np.ndarray  # row indices of the platform's orders, in file order
    copies: np.ndarray  # bool per position: a repeated row (DUPLICATE_IN_FILE)
    shuffled: bool = False
    extra_column: bool = False


@dataclass
class _PlatformDay:
    index: int
    platform: Platform
    rng: np.random.Generator
    pool: _Workers
    draws: _Draws
    order_id: np.ndarray  # object arrays from here on: mutable text columns
    platform_code: np.ndarray
    worker_id: np.ndarray
    worker_name: np.ndarray
    industry: np.ndarray
    province: np.ndarray
    city: np.ndarray
    status: np.ndarray
    premium_text: np.ndarray
    completed: np.ndarray  # seconds after 00:00; a defect may move it
    defect: np.ndarray  # object: the row defect's reason code, or None
    dup_source: np.ndarray  # bool: the row is repeated later in its file
    files: list[_OrderFile] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.order_id)


def _allocate(total: int, weights: list[float], minimum: int) -> list[int]:
    w = np.array(weights, dtype=float)
    share = w / w.sum() * total
    counts = np.floor(share).astype(int)
    rest = total - counts.sum()
    if rest > 0:
        counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    return [max(minimum, int(c)) for c in counts]


def _platform_day(index: int, platform: Platform, n: int, day: date, seed: int,
                  reference: Reference, geo: _Geography) -> _PlatformDay:
    rng = np.random.default_rng([seed, day.toordinal(), zlib.crc32(platform.code.encode())])
    per_worker = rng.uniform(*ORDERS_PER_WORKER)
    pool = _worker_pool(rng, int(np.ceil(n / per_worker)), geo)
    draws = _draw_orders(rng, n, platform.industry, pool, _rates(reference, platform, geo, day))
    draws = draws.take(np.argsort(draws.accepted, kind="stable"))
    order_id = _cat(f"{platform.code}-{day:%Y%m%d}-", np.strings.zfill(np.arange(1, n + 1).astype(str), 8))
    return _PlatformDay(
        index=index,
        platform=platform,
        rng=rng,
        pool=pool,
        draws=draws,
        order_id=order_id.astype(object),
        platform_code=np.full(n, platform.code, dtype=object),
        worker_id=pool.worker_id[draws.worker].astype(object),
        worker_name=pool.name[draws.worker].astype(object),
        industry=np.full(n, platform.industry, dtype=object),
        province=geo.provinces[pool.province_idx[draws.worker]].astype(object),
        city=pool.city[draws.worker].astype(object),
        status=np.where(draws.cancelled, "cancelled", "completed").astype(object),
        premium_text=draws.premium.astype(str).astype(object),
        completed=draws.completed.copy(),
        defect=np.full(n, None, dtype=object),
        dup_source=np.zeros(n, dtype=bool),
    )


def _names_where(pd_: _PlatformDay, test: Any) -> np.ndarray:
    """Per row: ``test`` holds for the worker's name (evaluated once per worker)."""
    per_worker = np.array([bool(test(str(name))) for name in pd_.pool.name], dtype=bool)
    return per_worker[pd_.draws.worker]


def _gb18030_not_utf8(name: str) -> bool:
    """Most Chinese names: their GB18030 bytes are not valid UTF-8."""
    try:
        name.encode("gb18030").decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _utf16_one_line(name: str) -> bool:
    """No byte of the name's UTF-16 looks like a line break: a byte-level line count stays exact."""
    data = name.encode("utf-16-le")
    return b"\n" not in data and b"\r" not in data


def _plan_files(days: list[_PlatformDay], day: date, defects_on: bool) -> None:
    """Decide every orders file: regular slices in the format cycle, plus file defects."""
    roles: dict[int, list[str]] = {}
    gb_rows = [_names_where(pd_, _gb18030_not_utf8) for pd_ in days]
    if defects_on:
        for k, role in enumerate(FILE_DEFECTS):
            index = (day.toordinal() + k) % len(days)
            if role == "gb18030":  # needs a name whose GB18030 bytes are not UTF-8
                index = next((j % len(days) for j in range(index, index + len(days))
                              if gb_rows[j % len(days)].any()), index)
            if role != "redelivered":
                roles.setdefault(index, []).append(role)
    g = 0  # global number of regular files
    parquet_seen = 0
    utc_done = False
    stamp = f"{day:%Y%m%d}"
    for pd_ in days:
        rng = pd_.rng
        extra_roles = roles.get(pd_.index, [])
        rows_for_extras = max(3, min(40, round(0.01 * pd_.n)))
        n_files = max(1, min(1 + pd_.index % 3, pd_.n - rows_for_extras * len(extra_roles)))
        taken = np.zeros(pd_.n, dtype=bool)
        extra_rows: list[np.ndarray] = []
        for role in extra_roles:
            eligible = ~taken
            if role == "undecodable":
                eligible &= _names_where(pd_, _utf16_one_line)
            candidates = np.flatnonzero(eligible)
            first = np.array([], dtype=np.int64)
            if role == "gb18030":  # at least one name that only GB18030 can read
                only = np.flatnonzero(eligible & gb_rows[pd_.index])
                if len(only):
                    first = only[[int(rng.integers(len(only)))]]
                    candidates = np.setdiff1d(candidates, first)
            size = min(rows_for_extras - len(first), len(candidates))
            rows = np.sort(np.concatenate([first, rng.choice(candidates, size=size, replace=False)]))
            taken[rows] = True
            extra_rows.append(rows)
        pool = np.flatnonzero(~taken)
        number = 0
        for rows in np.array_split(pool, n_files):
            number += 1
            fmt = _FORMAT_CYCLE[g % len(_FORMAT_CYCLE)]
            if fmt == "parquet":
                style = "naive" if parquet_seen % 2 == 0 else "aware"
                parquet_seen += 1
            elif fmt == "csv.gz" and not utc_done and g >= 3:
                style, utc_done = "utc", True
            else:
                style = "naive" if g % 4 == 2 else "offset"
            pd_.files.append(_OrderFile(
                name=f"orders-{stamp}-{number:02d}.{fmt}", fmt=fmt, style=style, role="regular",
                rows=rows, copies=np.zeros(len(rows), dtype=bool),
                shuffled=fmt in _CSV_FAMILY and g % 6 == 1,
                extra_column=fmt in _CSV_FAMILY and g % 6 == 3,
            ))
            g += 1
        for role, rows in zip(extra_roles, extra_rows, strict=True):
            number += 1
            pd_.files.append(_OrderFile(
                name=f"orders-{stamp}-{number:02d}.csv", fmt="csv", style="offset", role=role,
                rows=rows, copies=np.zeros(len(rows), dtype=bool),
            ))


def _inject_order_defects(days: list[_PlatformDay], platforms: list[Platform],
                          share: float, rng: np.random.Generator) -> None:
    if share <= 0:
        return
    # One flat view over all platforms' rows: eligibility per defect kind.
    regular, csv_ok, completed, peer, plat, local = [], [], [], [], [], []
    for pd_ in days:
        reg = np.zeros(pd_.n, dtype=bool)
        csv_rows = np.zeros(pd_.n, dtype=bool)
        for f in pd_.files:
            if f.role == "regular":
                reg[f.rows] = True
                if f.fmt in _CSV_FAMILY:
                    csv_rows[f.rows] = True
        regular.append(reg)
        csv_ok.append(csv_rows)
        completed.append(~pd_.draws.cancelled)
        peer.append(np.full(pd_.n, _same_industry_peer(pd_.platform, platforms) is not None))
        plat.append(np.full(pd_.n, pd_.index))
        local.append(np.arange(pd_.n))
    available = np.concatenate(regular)
    eligible = {
        "TIME_ORDER": np.concatenate(completed),
        "INVALID_INTEGER": np.concatenate(csv_ok),
        "PLATFORM_MISMATCH": np.concatenate(peer),
    }
    plat_all = np.concatenate(plat)
    local_all = np.concatenate(local)
    total = max(len(ORDER_DEFECTS), round(share * int(available.sum())))
    for k, kind in enumerate(ORDER_DEFECTS):
        count = total // len(ORDER_DEFECTS) + (1 if k < total % len(ORDER_DEFECTS) else 0)
        mask = available & eligible.get(kind, True)
        candidates = np.flatnonzero(mask)
        picked = np.sort(rng.choice(candidates, size=min(count, len(candidates)), replace=False))
        available[picked] = False
        for flat in picked:
            pd_ = days[int(plat_all[flat])]
            row = int(local_all[flat])
            if kind == "DUPLICATE_IN_FILE":
                pd_.dup_source[row] = True
            else:
                pd_.defect[row] = kind
                _apply_order_defect(pd_, row, kind, platforms, rng)
    # Repeat each duplicate source later in its own file.
    for pd_ in days:
        for f in pd_.files:
            sources = np.flatnonzero(pd_.dup_source[f.rows])
            if not len(sources):
                continue
            at = np.array([int(rng.integers(s + 1, len(f.rows) + 1)) for s in sources])
            f.copies = np.insert(f.copies, at, True)
            f.rows = np.insert(f.rows, at, f.rows[sources])


def _apply_order_defect(pd_: _PlatformDay, row: int, kind: str, platforms: list[Platform],
                        rng: np.random.Generator) -> None:
    if kind == "INVALID_RESIDENT_ID":
        pd_.worker_id[row] = _wrong_check_char(pd_.worker_id[row], rng)
    elif kind == "PLATFORM_MISMATCH":
        pd_.platform_code[row] = _same_industry_peer(pd_.platform, platforms)
    elif kind == "TIME_ORDER":
        pd_.completed[row] = pd_.draws.accepted[row] - int(rng.integers(1, 60)) * 60
    elif kind == "UNKNOWN_CODE":
        pd_.industry[row] = _UNKNOWN_INDUSTRIES[int(rng.integers(len(_UNKNOWN_INDUSTRIES)))]
    elif kind == "INVALID_AREA_CODE":
        pd_.city[row] = pd_.province[row][:2] + "9900"
    elif kind == "INVALID_INTEGER":
        pd_.premium_text[row] = f"{pd_.draws.premium[row] / 100:.2f}"  # yuan instead of fen
    elif kind == "MISSING_VALUE":
        pd_.worker_name[row] = ""
    else:  # pragma: no cover
        raise ValueError(kind)


def _order_table(pd_: _PlatformDay, f: _OrderFile, day: date) -> pa.Table:
    rows = f.rows
    draws = pd_.draws
    cancelled = draws.cancelled[rows]

    def text(values: np.ndarray) -> pa.Array:
        return pa.array(values[rows], type=pa.string())

    columns: dict[str, pa.Array] = {
        "order_id": text(pd_.order_id),
        "platform_code": text(pd_.platform_code),
        "worker_id": text(pd_.worker_id),
        "worker_name": text(pd_.worker_name),
        "industry": text(pd_.industry),
        "province_code": text(pd_.province),
        "city_code": text(pd_.city),
    }
    if f.fmt == "parquet":
        aware = f.style == "aware"
        columns["accepted_at"] = _timestamp_array(draws.accepted[rows], day, aware)
        columns["completed_at"] = _timestamp_array(pd_.completed[rows], day, aware, cancelled)
    else:
        columns["accepted_at"] = _timestamp_text(draws.accepted[rows], day, f.style)
        columns["completed_at"] = _timestamp_text(pd_.completed[rows], day, f.style, cancelled)
    columns["status"] = text(pd_.status)
    if f.fmt in _CSV_FAMILY:
        columns["premium_fen"] = text(pd_.premium_text)
    else:
        columns["premium_fen"] = pa.array(draws.premium[rows], type=pa.int64())
    names = list(ORDER_COLUMNS)
    if f.shuffled:
        while names == list(ORDER_COLUMNS):
            names = [str(c) for c in pd_.rng.permutation(ORDER_COLUMNS)]
    if f.extra_column:
        versions = np.array(["8.12.3", "8.13.0", "8.14.1", "9.0.2"])
        columns[_EXTRA_COLUMN] = pa.array(versions[pd_.rng.integers(len(versions), size=len(rows))])
        names.insert(4, _EXTRA_COLUMN)
    if f.role == "missing_column":
        names.remove(MISSING_COLUMN_NAME)
    return pa.table({name: columns[name] for name in names})


def _encode_order_file(pd_: _PlatformDay, f: _OrderFile, table: pa.Table) -> tuple[bytes, str]:
    """The file's bytes and its encoding label."""
    if f.fmt == "parquet":
        return _parquet_bytes(table), "binary"
    if f.fmt in _JSONL_FAMILY:
        data = _jsonl_bytes(table)
        return (_gzip(data) if f.fmt.endswith(".gz") else data), "utf-8"
    data = _csv_bytes(table)
    encoding = "utf-8"
    if f.role == "gb18030":
        data = data.decode("utf-8").encode("gb18030")
        encoding = "gb18030"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # pragma: no cover - _plan_files puts a GB18030-only name in the file
            raise AssertionError("GB18030 file happens to be valid UTF-8")
    elif f.role == "utf8_bom":
        data = b"\xef\xbb\xbf" + data
        encoding = "utf-8-sig"
    elif f.role == "undecodable":
        # A spreadsheet's "Unicode text" export, big-endian with its BOM: every line
        # still ends with a 0x0A byte, so a byte-level line count gives the rows.
        data = b"\xfe\xff" + data.decode("utf-8").encode("utf-16-be")
        encoding = "utf-16"
        for codec in ("utf-8", "gb18030"):
            try:
                data.decode(codec)
            except UnicodeDecodeError:
                continue
            raise AssertionError(f"undecodable file decodes as {codec}")  # pragma: no cover
    elif f.role == "truncated":
        body, _, last = data.rstrip(b"\n").rpartition(b"\n")
        cut = _nth(last, b",", 5) + 4  # inside the sixth field
        data = body + b"\n" + last[:cut]
    return (_gzip(data) if f.fmt.endswith(".gz") else data), encoding


def _nth(data: bytes, sep: bytes, n: int) -> int:
    at = -1
    for _ in range(n):
        at = data.index(sep, at + 1)
    return at


def _order_file_report(pd_: _PlatformDay, f: _OrderFile, key: str, day: date, encoding: str,
                       table: pa.Table) -> FileReport:
    report = FileReport(
        key=key, dataset="orders", platform_code=pd_.platform.code, partition=day.isoformat(),
        format=f.fmt, encoding=encoding,
        timestamps=f.style, rows_in=len(f.rows), columns=list(table.column_names), role=f.role,
    )
    if f.role == "missing_column":
        report.file_rejection = "MISSING_COLUMN"
        report.lines = [ExpectedLine(0, "", MISSING_COLUMN_NAME, "MISSING_COLUMN")]
        return report
    if f.role == "undecodable":
        report.file_rejection = "UNDECODABLE"
        report.lines = [ExpectedLine(0, "", "", "UNDECODABLE")]
        return report
    first_line = 2 if f.fmt in _CSV_FAMILY else 1
    lines = []
    loaded = np.ones(len(f.rows), dtype=bool)
    for pos in np.flatnonzero(f.copies):
        lines.append(ExpectedLine(first_line + int(pos), pd_.order_id[f.rows[pos]], "order_id", "DUPLICATE_IN_FILE"))
        loaded[pos] = False
    kinds = pd_.defect[f.rows]
    for pos in np.flatnonzero(kinds != None):  # noqa: E711 - element-wise on an object array
        if f.copies[pos]:
            continue
        kind = kinds[pos]
        lines.append(ExpectedLine(first_line + int(pos), pd_.order_id[f.rows[pos]], ORDER_DEFECT_FIELD[kind], kind))
        loaded[pos] = False
    if f.role == "truncated":
        last = len(f.rows) - 1
        lines.append(ExpectedLine(first_line + last, "", "", "MALFORMED_ROW"))  # no key: unparsable
        loaded[last] = False
    report.lines = sorted(lines, key=lambda line: (line.line, line.field))
    mismatch = pd_.draws.premium[f.rows] != pd_.draws.rate[f.rows]
    report.premium_mismatches = int((mismatch & loaded).sum())
    return report


# --- The day's claims ---------------------------------------------------------------

_SMALL_INJURIES = ("soft_tissue", "sprain", "abrasion", "contusion")
_SERIOUS_INJURIES = ("fracture", "fracture", "dislocation", "head_injury")


@dataclass
class _Claim:
    pd: _PlatformDay
    row: int  # the order's row
    record: dict[str, Any]
    category: str = "small"
    defect: str | None = None


def _payee(rng: np.random.Generator) -> tuple[str, str]:
    bin_, length, bank = _BANKS[int(rng.integers(len(_BANKS)))]
    body = bin_ + "".join(str(d) for d in rng.integers(0, 10, size=length - len(bin_) - 1))
    account = body + luhn.calc_check_digit(body)
    branch = bank + "".join(str(d) for d in rng.integers(0, 10, size=9))
    return account, branch


def _claim_candidates(pd_: _PlatformDay) -> np.ndarray:
    regular = np.zeros(pd_.n, dtype=bool)
    for f in pd_.files:
        if f.role == "regular":
            regular[f.rows] = True
    clean = regular & (pd_.defect == None) & ~pd_.dup_source  # noqa: E711
    return np.flatnonzero(clean & ~pd_.draws.cancelled & (pd_.draws.accepted <= 86400 - 1800))


def _draw_claims(days: list[_PlatformDay], day: date, rng: np.random.Generator,
                 claims_per_million: float, minimum: int) -> list[list[_Claim]]:
    per_platform: list[list[_Claim]] = []
    stamp = f"{day:%Y%m%d}"
    for pd_ in days:
        wanted = max(minimum, round(pd_.n * claims_per_million / 1e6))
        candidates = _claim_candidates(pd_)
        rows = np.sort(rng.choice(candidates, size=min(wanted, len(candidates)), replace=False))
        claims = []
        for k, row in enumerate(rows, start=1):
            row = int(row)
            accepted = int(pd_.draws.accepted[row])
            end = min(int(pd_.completed[row]), 86400 - 1200)
            incident = accepted + int(rng.integers(0, max(1, end - accepted)))
            reported = min(incident + int(rng.integers(60, 3 * 3600)), 86399)
            account, branch = _payee(rng)
            record = {
                "claim_id": f"{pd_.platform.code}-{stamp}-C{k:05d}",
                "platform_code": pd_.platform.code,
                "order_id": pd_.order_id[row],
                "worker_id": pd_.worker_id[row],
                "worker_name": pd_.worker_name[row],
                "incident_at": incident,
                "incident_province_code": pd_.province[row],
                "incident_city_code": pd_.city[row],
                "injury_type": "",
                "treatment": "",
                "inpatient_days": 0,
                "medical_cost_fen": 0,
                "disability_assessment": False,
                "liability_disputed": False,
                "documents": "",
                "reported_at": reported,
                "payee_account": account,
                "payee_bank_code": branch,
            }
            claims.append(_Claim(pd_, row, record))
        per_platform.append(claims)
    # Categories: mostly small injuries, some inpatient, a few special cases; on a
    # day with enough claims every special case occurs at least once.
    flat = [claim for claims in per_platform for claim in claims]
    categories = ("small", "inpatient", "disability", "disputed", "missing_documents")
    draws = rng.choice(len(categories), size=len(flat), p=[0.80, 0.10, 0.03, 0.03, 0.04])
    for claim, c in zip(flat, draws, strict=True):
        claim.category = categories[int(c)]
    if len(flat) >= 10:
        for category in categories[1:]:
            if not any(claim.category == category for claim in flat):
                smalls = [i for i, claim in enumerate(flat) if claim.category == "small"]
                flat[smalls[int(rng.integers(len(smalls)))]].category = category
    for claim in flat:
        _fill_medical(claim, rng)
    return per_platform


def _fill_medical(claim: _Claim, rng: np.random.Generator) -> None:
    r = claim.record
    documents = list(FIVE_DOCUMENTS)
    if claim.category in ("inpatient", "disability"):
        r["injury_type"] = _SERIOUS_INJURIES[int(rng.integers(len(_SERIOUS_INJURIES)))]
        r["treatment"] = "inpatient"
        r["inpatient_days"] = int(rng.integers(2, 22))
        r["medical_cost_fen"] = int(rng.integers(8_000, 60_000)) * 100
        documents.append("discharge_summary")
        if claim.category == "disability":
            r["disability_assessment"] = True
            documents.append("disability_application")
    else:
        r["injury_type"] = _SMALL_INJURIES[int(rng.integers(len(_SMALL_INJURIES)))]
        r["treatment"] = "outpatient" if rng.random() < 0.7 else "emergency"
        r["medical_cost_fen"] = int(rng.integers(100, 2_501)) * 100 + int(rng.integers(0, 100))
        if claim.category == "disputed":
            r["liability_disputed"] = True
        elif claim.category == "missing_documents":
            dropped = {"receipts", "liability_determination", "consent"}
            drop = sorted(dropped)[int(rng.integers(len(dropped)))]
            documents.remove(drop)
    r["documents"] = ";".join(documents)


def _apply_claim_defect(claim: _Claim, rng: np.random.Generator) -> None:
    r = claim.record
    kind = claim.defect
    if kind == "INVALID_BANK_ACCOUNT":
        last = int(r["payee_account"][-1])
        r["payee_account"] = r["payee_account"][:-1] + str((last + int(rng.integers(1, 10))) % 10)
    elif kind == "INVALID_RESIDENT_ID":
        r["worker_id"] = _wrong_check_char(r["worker_id"], rng)
    elif kind == "MISSING_VALUE":
        r["worker_name"] = ""
    elif kind == "UNKNOWN_CODE":
        r["injury_type"] = _UNKNOWN_INJURIES[int(rng.integers(len(_UNKNOWN_INJURIES)))]
    elif kind == "TIME_ORDER":
        r["reported_at"] = r["incident_at"] - int(rng.integers(5, 120)) * 60
    elif kind == "INVALID_BANK_CODE":
        r["payee_bank_code"] = r["payee_bank_code"][:11]
    elif kind != "DUPLICATE_IN_FILE":  # pragma: no cover
        raise ValueError(kind)


def _claims_format(index: int) -> str:
    if index % 4 == 2:
        return "jsonl"
    if index % 8 == 5:
        return "parquet"
    return "csv"


def _claims_bytes(records: list[dict[str, Any]], fmt: str, day: date) -> bytes:
    if fmt == "parquet":
        table = pa.table({
            name: (
                _timestamp_array(np.array([r[name] for r in records], dtype=np.int64), day, True)
                if name in ("incident_at", "reported_at")
                else pa.array([r[name] for r in records], type=_CLAIM_TYPES.get(name, pa.string()))
            )
            for name in CLAIM_COLUMNS
        })
        return _parquet_bytes(table)
    if fmt == "jsonl":
        out = io.StringIO()
        for r in records:
            row = {name: (_local_iso(day, r[name]) if name in ("incident_at", "reported_at") else r[name])
                   for name in CLAIM_COLUMNS}
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        return out.getvalue().encode("utf-8")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CLAIM_COLUMNS)
    for r in records:
        writer.writerow([_claim_text(name, r[name], day) for name in CLAIM_COLUMNS])
    data = out.getvalue().encode("utf-8")
    return _gzip(data) if fmt.endswith(".gz") else data


_CLAIM_TYPES = {
    "inpatient_days": pa.int64(),
    "medical_cost_fen": pa.int64(),
    "disability_assessment": pa.bool_(),
    "liability_disputed": pa.bool_(),
}


def _claim_text(name: str, value: Any, day: date) -> str:
    if name in ("incident_at", "reported_at"):
        return _local_iso(day, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- Declarations -------------------------------------------------------------------


def _declaration_bytes(pd_: _PlatformDay, day: date) -> tuple[bytes, int]:
    days_in_month = calendar.monthrange(day.year, day.month)[1]
    provinces, inverse = np.unique(pd_.province.astype(str), return_inverse=True)
    counts = np.bincount(inverse, minlength=len(provinces))
    premiums = np.bincount(inverse, weights=pd_.draws.premium, minlength=len(provinces))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DECLARATION_COLUMNS)
    for code, count, premium in zip(provinces, counts, premiums, strict=True):
        writer.writerow([pd_.platform.code, code, pd_.platform.industry, f"{day:%Y-%m}",
                         int(count) * days_in_month, int(round(premium)) * days_in_month])
    return out.getvalue().encode("utf-8"), len(provinces)


def _is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


# --- Public API ---------------------------------------------------------------------


def simulate_day(
    day: date,
    landing: Store,
    *,
    orders: int = 20000,
    seed: int = 1,
    defect_share: float = 0.01,
    claims_per_million: float = 40.0,
    min_claims_per_platform: int = 3,
    reference: Reference | None = None,
) -> SimulationReport:
    """Write a complete landing partition of every registered platform for ``day``.

    ``orders`` is the day's total across platforms (each platform gets at least 10).
    ``defect_share`` is the share of order rows carrying one row defect (at least one
    of each kind when positive; claims get ``max(1, round(share * claims))``); when
    positive the day also carries one of each file defect. Returns the expected
    outcome of ingesting every file written.
    """
    reference = reference or load_reference()
    seed = int(seed) % 2**63
    geo = _geography(reference, day)
    platforms = [p for p in reference.platforms.values() if p.registered_from <= day]
    if not platforms:
        raise ValueError(f"no platform registered on {day}")
    weights = [PLATFORM_WEIGHTS.get(p.code, DEFAULT_PLATFORM_WEIGHT) for p in platforms]
    counts = _allocate(orders, weights, 10)
    days = [
        _platform_day(i, p, n, day, seed, reference, geo)
        for i, (p, n) in enumerate(zip(platforms, counts, strict=True))
    ]
    defects_on = defect_share > 0
    _plan_files(days, day, defects_on)
    day_rng = np.random.default_rng([seed, day.toordinal(), 0x5EED])
    _inject_order_defects(days, platforms, defect_share, day_rng)
    claims = _draw_claims(days, day, day_rng, claims_per_million, min_claims_per_platform)

    # The day's one amendment, then claim row defects on other claims.
    amended: _Claim | None = None
    for k in range(len(days)):
        candidates = claims[(day.toordinal() + 3 + k) % len(days)]
        if candidates:
            amended = candidates[int(day_rng.integers(len(candidates)))]
            break
    if defects_on:
        flat = [c for cs in claims for c in cs if c is not amended]
        n_defects = min(len(flat), max(1, round(defect_share * sum(len(cs) for cs in claims))))
        picked = day_rng.choice(len(flat), size=n_defects, replace=False)
        for j, index in enumerate(picked):
            flat[int(index)].defect = CLAIM_DEFECTS[j % len(CLAIM_DEFECTS)]
            _apply_claim_defect(flat[int(index)], day_rng)

    report = SimulationReport(day=day, seed=seed, landing_url=getattr(landing, "url", ""),
                              month_end=_is_month_end(day))
    report.orders_generated = sum(pd_.n for pd_ in days)
    report.claims_generated = sum(len(cs) for cs in claims)
    report.platforms = {
        pd_.platform.code: {"orders": pd_.n, "claims": len(claims[pd_.index])} for pd_ in days
    }
    redelivery_platform = (day.toordinal() + FILE_DEFECTS.index("redelivered")) % len(days)
    for pd_ in days:
        _write_orders_partition(pd_, day, landing, report,
                                redeliver=defects_on and pd_.index == redelivery_platform)
        _write_claims_partition(pd_, claims[pd_.index], amended, day, day_rng, landing, report)
    if report.month_end:
        for pd_ in days:
            _write_declaration(pd_, day, landing, report)
    return report


def _publish(landing: Store, report: SimulationReport, prefix: str,
             files: list[tuple[bytes, FileReport]]) -> None:
    """Write a partition's files in order, then its marker."""
    for data, file_report in files:
        landing.write_bytes(file_report.key, data)
        report.files.append(file_report)
    landing.write_bytes(prefix + MARKER, b"")
    report.markers.append(prefix + MARKER)


def _write_orders_partition(pd_: _PlatformDay, day: date, landing: Store, report: SimulationReport,
                            *, redeliver: bool) -> None:
    prefix = f"orders/platform={pd_.platform.code}/date={day.isoformat()}/"
    files: list[tuple[bytes, FileReport]] = []
    for f in pd_.files:
        table = _order_table(pd_, f, day)
        data, encoding = _encode_order_file(pd_, f, table)
        files.append((data, _order_file_report(pd_, f, prefix + f.name, day, encoding, table)))
    if redeliver:  # the smallest regular file again, byte for byte, under the partition's last name
        data, original = min((pair for pair in files if pair[1].role == "regular"), key=lambda pair: pair[1].rows_in)
        copy_key = f"{prefix}orders-{day:%Y%m%d}-{len(pd_.files) + 1:02d}.{original.format}"
        files.append((data, FileReport(
            key=copy_key, dataset="orders", platform_code=pd_.platform.code, partition=day.isoformat(),
            format=original.format, encoding=original.encoding, timestamps=original.timestamps,
            rows_in=original.rows_in, columns=list(original.columns), role="redelivered",
            file_rejection="DUPLICATE_FILE", duplicate_of=original.key,
            lines=[ExpectedLine(0, "", "", "DUPLICATE_FILE")],
        )))
    _publish(landing, report, prefix, files)


def _claims_file_report(key: str, pd_: _PlatformDay, day: date, fmt: str, rows: int,
                        lines: list[ExpectedLine], role: str = "regular") -> FileReport:
    return FileReport(
        key=key, dataset="claims", platform_code=pd_.platform.code, partition=day.isoformat(),
        format=fmt, encoding="binary" if fmt == "parquet" else "utf-8",
        timestamps="aware" if fmt == "parquet" else "offset",
        rows_in=rows, columns=list(CLAIM_COLUMNS), lines=lines, role=role,
    )


def _write_claims_partition(pd_: _PlatformDay, mine: list[_Claim], amended: _Claim | None, day: date,
                            rng: np.random.Generator, landing: Store, report: SimulationReport) -> None:
    prefix = f"claims/platform={pd_.platform.code}/date={day.isoformat()}/"
    fmt = _claims_format(pd_.index)
    # Written rows as indices into `mine`; -1 - i is the repeated row of claim i.
    positions = list(range(len(mine)))
    for i, claim in enumerate(mine):
        if claim.defect == "DUPLICATE_IN_FILE":
            positions.insert(int(rng.integers(positions.index(i) + 1, len(positions) + 1)), -1 - i)
    rows = [dict(mine[p if p >= 0 else -1 - p].record) for p in positions]
    first_line = 2 if fmt in _CSV_FAMILY else 1
    lines = []
    for pos, p in enumerate(positions):
        claim = mine[p if p >= 0 else -1 - p]
        claim_id = claim.record["claim_id"]
        if p < 0:
            lines.append(ExpectedLine(first_line + pos, claim_id, "claim_id", "DUPLICATE_IN_FILE"))
        elif claim.defect and claim.defect != "DUPLICATE_IN_FILE":
            lines.append(ExpectedLine(first_line + pos, claim_id, CLAIM_DEFECT_FIELD[claim.defect], claim.defect))
    key = f"{prefix}claims-{day:%Y%m%d}-01.{fmt}"
    files = [(_claims_bytes(rows, fmt, day), _claims_file_report(key, pd_, day, fmt, len(rows), lines))]
    if amended is not None and amended.pd is pd_:
        changed = dict(amended.record)
        changed["medical_cost_fen"] += int(rng.integers(20, 500)) * 100  # a late receipt
        key = f"{prefix}claims-{day:%Y%m%d}-02.{fmt}"
        files.append((_claims_bytes([changed], fmt, day),
                      _claims_file_report(key, pd_, day, fmt, 1, [], role="amendment")))
        report.amended_claims.append(changed["claim_id"])
    _publish(landing, report, prefix, files)


def _write_declaration(pd_: _PlatformDay, day: date, landing: Store, report: SimulationReport) -> None:
    prefix = f"declarations/platform={pd_.platform.code}/month={day:%Y-%m}/"
    data, n_rows = _declaration_bytes(pd_, day)
    _publish(landing, report, prefix, [(data, FileReport(
        key=prefix + "declaration.csv", dataset="declarations", platform_code=pd_.platform.code,
        partition=f"{day:%Y-%m}", format="csv", encoding="utf-8", timestamps="",
        rows_in=n_rows, columns=list(DECLARATION_COLUMNS),
    ))])


def write_orders_csv(
    path: Path,
    day: date,
    n: int,
    *,
    seed: int = 1,
    platform_code: str = "meituan",
    reference: Reference | None = None,
) -> int:
    """Write one valid orders CSV of ``n`` rows (plus a header); return its size in bytes.

    Generated in chunks, so memory stays bounded whatever ``n``. Timestamps carry
    ``+08:00``; about 0.5% of premiums differ from the rate table (valid, flagged).
    """
    reference = reference or load_reference()
    platform = reference.platforms[platform_code]
    geo = _geography(reference, day)
    rng = np.random.default_rng([int(seed) % 2**63, day.toordinal(), zlib.crc32(platform.code.encode()), 1])
    pool = _worker_pool(rng, int(np.ceil(max(n, 1) / 30)), geo)
    pool_ids = pa.array(pool.worker_id)
    pool_names = pa.array(pool.name)
    pool_provinces = pa.array(geo.provinces[pool.province_idx])
    pool_cities = pa.array(pool.city)
    statuses = pa.array(["completed", "cancelled"])
    rates = _rates(reference, platform, geo, day)
    width = max(8, len(str(n)))
    prefix = f"{platform.code}-{day:%Y%m%d}-"
    schema = pa.schema([(name, pa.string()) for name in ORDER_COLUMNS])
    path = Path(path)
    with open(path, "wb") as handle:
        with pacsv.CSVWriter(handle, schema, write_options=_CSV_OPTIONS) as writer:
            for start in range(0, n, _CHUNK_ROWS):
                m = min(_CHUNK_ROWS, n - start)
                draws = _draw_orders(rng, m, platform.industry, pool, rates)
                worker = pa.array(draws.worker)
                columns = [
                    _sequence_ids(prefix, start + 1, m, width),
                    pa.repeat(pa.scalar(platform.code), m),
                    pool_ids.take(worker),
                    pool_names.take(worker),
                    pa.repeat(pa.scalar(platform.industry), m),
                    pool_provinces.take(worker),
                    pool_cities.take(worker),
                    _timestamp_text(draws.accepted, day, "offset"),
                    _timestamp_text(draws.completed, day, "offset", draws.cancelled),
                    statuses.take(pa.array(draws.cancelled.astype(np.int8))),
                    pa.array(draws.premium).cast(pa.string()),
                ]
                writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return path.stat().st_size
