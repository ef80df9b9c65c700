"""Which landing partitions a business day expects, and which of them have not
arrived by the time a run looks.

Expected by default: the orders and claims partitions of every platform
registered on the day (the pilot platforms, all active in pilot provinces).
Determinations, bank returns and declarations are optional feeds: a day without
them is normal. Configuration (environment, read when a task runs, never when a
DAG file is parsed):

- ``CLAIMS_EXPECTED_FEEDS``: comma-separated feeds whose partitions must arrive
  (default ``orders,claims``; empty: none);
- ``CLAIMS_EXPECTED_PLATFORMS``: comma-separated platform codes expected to
  deliver (default: every platform registered on the day);
- ``CLAIMS_ARRIVAL_CUTOFF``: ``HH:MM`` on the day after D (Asia/Shanghai) until
  which the scheduled ingestion of D waits for markers (default ``07:00``: five
  hours after the 02:00 run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from claims.settings import setting

SOURCES = ("orders", "claims", "determinations", "bank_returns", "declarations")
DEFAULT_EXPECTED_FEEDS = ("orders", "claims")


class ExpectationError(ValueError):
    """The expected-partitions configuration is wrong: a permanent error, not worth a retry."""


class _Settings:
    """The settings as a mapping's ``get``: the environment, else Airflow's
    variables inside a task (claims.settings)."""

    def get(self, name: str, default: str | None = None) -> str | None:
        return setting(name, default)


SETTINGS: Mapping[str, str] = _Settings()  # type: ignore[assignment]


@dataclass(frozen=True)
class Expectations:
    feeds: tuple[str, ...]
    platforms: tuple[str, ...] | None  # None: every platform registered on the day

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Expectations:
        env = SETTINGS if env is None else env
        feeds = _codes(env.get("CLAIMS_EXPECTED_FEEDS"), DEFAULT_EXPECTED_FEEDS) or ()
        unknown = sorted(set(feeds) - set(SOURCES))
        if unknown:
            raise ExpectationError(f"CLAIMS_EXPECTED_FEEDS names unknown feeds {unknown} (known: {list(SOURCES)})")
        platforms = _codes(env.get("CLAIMS_EXPECTED_PLATFORMS"), None)
        return cls(feeds, platforms)

    def platforms_on(self, day: date, registered: Mapping[str, object]) -> list[str]:
        """The platforms expected to deliver on ``day``: the configured ones (each must
        be registered), else every platform registered on or before the day."""
        if self.platforms is not None:
            unknown = sorted(set(self.platforms) - set(registered))
            if unknown:
                raise ExpectationError(f"CLAIMS_EXPECTED_PLATFORMS names unregistered platforms {unknown}")
            return sorted(self.platforms)
        return sorted(code for code, platform in registered.items()
                      if getattr(platform, "registered_from", None) is None
                      or getattr(platform, "registered_from") <= day)  # noqa: B009 - any object with the field

    def missing(self, source: str, day: date, not_arrived: list[str], registered: Mapping[str, object]) -> list[str]:
        """The expected partitions among ``not_arrived`` (partition prefixes as the
        discovery names them: ``orders/platform=didi/date=D/``)."""
        if source not in self.feeds:
            return []
        wanted = self.platforms_on(day, registered)
        missing = []
        for prefix in not_arrived:
            platform = next((part.removeprefix("platform=") for part in prefix.split("/")
                             if part.startswith("platform=")), "")
            if (not platform or platform in wanted) and (f"date={day.isoformat()}/" in prefix):
                missing.append(prefix)
        return missing


def arrival_cutoff(day: date, env: Mapping[str, str] | None = None) -> datetime:
    """When the scheduled ingestion of ``day`` stops waiting: ``CLAIMS_ARRIVAL_CUTOFF``
    on the next day, Asia/Shanghai."""
    from claims.calendar import SHANGHAI

    env = SETTINGS if env is None else env
    text = env.get("CLAIMS_ARRIVAL_CUTOFF") or "07:00"
    try:
        at = time.fromisoformat(text)
    except ValueError as error:
        raise ExpectationError(f"CLAIMS_ARRIVAL_CUTOFF is HH:MM, got {text!r}") from error
    return datetime.combine(day + timedelta(days=1), at, SHANGHAI)


def _codes(value: str | None, default: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is None:
        return default
    return tuple(code.strip() for code in value.split(",") if code.strip())


def arrival_report(source: str, day: date, settings=None) -> dict:  # type: ignore[no-untyped-def]
    """What the day's run of ``source`` finds now: every partition of the day not
    arrived, and those of them that were expected."""
    from claims.ingest import pending_partitions
    from claims.reference import load_reference

    not_arrived = pending_partitions(source, day.isoformat(), settings)
    expected_missing = Expectations.from_environment().missing(source, day, not_arrived, load_reference().platforms)
    return {"source": source, "business_date": day.isoformat(), "not_arrived": not_arrived,
            "expected_missing": expected_missing}
