"""Reference data: platforms, provinces, prefectures and premium rates.

The data lives in versioned CSV files beside this module (``data/``); nothing here
is a literal business fact. An administrator adds a province, a platform or a rate
by editing a file, or points ``CLAIMS_REFERENCE_DIR`` at a maintained copy.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from claims.settings import setting

DATA_DIR = Path(__file__).parent / "data"
WILDCARD = "*"


@dataclass(frozen=True)
class Platform:
    code: str
    name: str
    name_zh: str
    industry: str
    registered_from: date


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    name_zh: str
    pilot_from: date | None

    def is_pilot_on(self, day: date) -> bool:
        return self.pilot_from is not None and self.pilot_from <= day


@dataclass(frozen=True)
class Prefecture:
    code: str
    province_code: str
    name_zh: str
    valid_from: date
    valid_to: date | None

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Rate:
    platform_code: str
    industry: str
    province_code: str
    effective_from: date
    premium_fen: int

    def specificity(self) -> tuple[int, int]:
        return (self.platform_code != WILDCARD, self.province_code != WILDCARD)


@dataclass(frozen=True)
class Reference:
    platforms: dict[str, Platform]
    provinces: dict[str, Province]
    prefectures: dict[str, Prefecture]
    rates: tuple[Rate, ...] = field(default=())

    def pilot_provinces(self, on: date) -> set[str]:
        return {code for code, province in self.provinces.items() if province.is_pilot_on(on)}

    def prefectures_of(self, province_code: str, on: date | None = None) -> list[str]:
        return sorted(
            p.code
            for p in self.prefectures.values()
            if p.province_code == province_code and (on is None or p.is_valid_on(on))
        )

    def premium_fen(self, platform_code: str, industry: str, province_code: str, on: date) -> int | None:
        """The per-order premium in force on a date: the most specific, latest rate."""
        candidates = [
            rate
            for rate in self.rates
            if rate.industry == industry
            and rate.platform_code in (platform_code, WILDCARD)
            and rate.province_code in (province_code, WILDCARD)
            and rate.effective_from <= on
        ]
        if not candidates:
            return None
        best = max(candidates, key=lambda r: (r.specificity(), r.effective_from))
        return best.premium_fen


def _rows(directory: Path, name: str) -> list[dict[str, str]]:
    with open(directory / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@functools.cache
def _load(directory: Path) -> Reference:
    platforms = {
        row["platform_code"]: Platform(
            row["platform_code"], row["name"], row["name_zh"], row["industry"],
            date.fromisoformat(row["registered_from"]),
        )
        for row in _rows(directory, "platforms.csv")
    }
    provinces = {
        row["province_code"]: Province(
            row["province_code"], row["name"], row["name_zh"], _date(row["pilot_from"]),
        )
        for row in _rows(directory, "provinces.csv")
    }
    prefectures = {
        row["city_code"]: Prefecture(
            row["city_code"], row["province_code"], row["name_zh"],
            _date(row["valid_from"]) or date.min, _date(row["valid_to"]),
        )
        for row in _rows(directory, "areas.csv")
    }
    rates = tuple(
        Rate(
            row["platform_code"], row["industry"], row["province_code"],
            date.fromisoformat(row["effective_from"]), int(row["premium_fen"]),
        )
        for row in _rows(directory, "rates.csv")
    )
    return Reference(platforms, provinces, prefectures, rates)


def load_reference(directory: Path | None = None) -> Reference:
    if directory is None:
        configured = setting("CLAIMS_REFERENCE_DIR")
        directory = Path(configured) if configured else DATA_DIR
    return _load(directory.resolve())
