"""Which partitions a day expects (configuration) and when its ingestion stops waiting."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from claims.arrivals import ExpectationError, Expectations, arrival_cutoff

DAY = date(2025, 9, 12)
REGISTERED = {
    "didi": SimpleNamespace(registered_from=date(2022, 7, 1)),
    "meituan": SimpleNamespace(registered_from=date(2022, 7, 1)),
    "newcomer": SimpleNamespace(registered_from=date(2025, 10, 1)),  # not yet on DAY
}
NOT_ARRIVED = [
    "orders/platform=didi/date=2025-09-12/",
    "orders/platform=newcomer/date=2025-09-12/",
    "orders/platform=meituan/date=2025-09-10/",  # a late partition of the window: not the day's
]


def test_default_expects_orders_and_claims_of_every_platform_registered_on_the_day() -> None:
    expectations = Expectations.from_environment({})
    assert expectations.feeds == ("orders", "claims")
    assert expectations.missing("orders", DAY, NOT_ARRIVED, REGISTERED) == ["orders/platform=didi/date=2025-09-12/"]
    assert expectations.missing("determinations", DAY, ["determinations/date=2025-09-12/"], REGISTERED) == []


def test_feeds_and_platforms_are_configuration() -> None:
    expectations = Expectations.from_environment(
        {"CLAIMS_EXPECTED_FEEDS": "orders, determinations", "CLAIMS_EXPECTED_PLATFORMS": "meituan"})
    assert expectations.missing("orders", DAY, NOT_ARRIVED, REGISTERED) == []
    assert expectations.missing("claims", DAY, ["claims/platform=meituan/date=2025-09-12/"], REGISTERED) == []
    assert expectations.missing("determinations", DAY, ["determinations/date=2025-09-12/"], REGISTERED) == [
        "determinations/date=2025-09-12/"]
    assert Expectations.from_environment({"CLAIMS_EXPECTED_FEEDS": ""}).feeds == ()


@pytest.mark.parametrize(("env", "named"), [
    ({"CLAIMS_EXPECTED_FEEDS": "orders,payments"}, "payments"),
    ({"CLAIMS_EXPECTED_PLATFORMS": "didi,nobody"}, "nobody"),
])
def test_a_wrong_configuration_is_an_expectation_error(env: dict[str, str], named: str) -> None:
    with pytest.raises(ExpectationError, match=named):
        Expectations.from_environment(env).missing("orders", DAY, NOT_ARRIVED, REGISTERED)


def test_the_cutoff_is_the_next_morning_in_shanghai() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert arrival_cutoff(DAY, {}) == datetime(2025, 9, 13, 7, 0, tzinfo=shanghai)
    assert arrival_cutoff(DAY, {"CLAIMS_ARRIVAL_CUTOFF": "05:30"}) == datetime(2025, 9, 13, 5, 30, tzinfo=shanghai)
    with pytest.raises(ExpectationError):
        arrival_cutoff(DAY, {"CLAIMS_ARRIVAL_CUTOFF": "late"})
