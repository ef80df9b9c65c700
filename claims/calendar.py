"""Business days: a calendar day in Asia/Shanghai (every day has one)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def business_day_of(instant: datetime) -> date:
    """The Asia/Shanghai calendar day of an instant (naive means UTC, as in Airflow)."""
    if instant.tzinfo is None:

        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(SHANGHAI).date()


_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def as_utc(instant: datetime) -> datetime:
    """A stored instant with its zone: SQLite hands back the UTC wall time without
    one, PostgreSQL keeps it."""
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def local_time(instant: datetime) -> str:
    """An instant as published: Asia/Shanghai, to the second, with its offset."""
    return as_utc(instant).astimezone(SHANGHAI).replace(microsecond=0).isoformat()


def parse_business_day(text: str) -> date:
    """Strictly YYYY-MM-DD (``date.fromisoformat`` alone also takes 20250901)."""
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"a business day is YYYY-MM-DD, got {text!r}") from error
