"""Business days: a calendar day in Asia/Shanghai (every day has one)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def business_day_of(instant: datetime) -> date:
    """The Asia/Shanghai calendar day of an instant (naive means UTC, as in Airflow)."""
    if instant.tzinfo is None:

        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(SHANGHAI).date()


def parse_business_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"a business day is YYYY-MM-DD, got {text!r}") from error
