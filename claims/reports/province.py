"""The province report for officials (CONTRACT.md, Reports: ``province_report.csv``)
and its trends, with small-cell suppression: a figure that rests on 1 to 4
workers is left empty and named in ``suppressed``.

Which workers a figure rests on:
- ``insured_workers``, ``orders``, ``premium_fen``: the workers with an order in
  the period (orders and premiums of fewer than five people would show theirs);
- ``claims_filed`` and each outcome column, ``past_deadline``: the distinct
  claimants of the claims counted;
- ``benefits_paid_fen``: the distinct claimants paid or returned in the period;
- days to payment: the distinct claimants of the claims first paid in the period;
- a ratio: suppressed when any figure it is derived from is.
A figure of 0 rests on no one and is shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from claims.reports.reconcile import owed_by_claim
from claims.reports.snapshot import ClaimKey, Snapshot

PROVINCE_COLUMNS = ["province_code", "platform_code", "period", "period_start", "period_end", "insured_workers",
                    "orders", "premium_fen", "claims_filed", "fast_track", "standard_review", "rejected", "pending",
                    "benefits_paid_fen", "fast_track_share", "payout_ratio", "accident_rate_per_million",
                    "median_days_to_payment", "p90_days_to_payment", "past_deadline", "suppressed"]
PERIODS = ("day", "month_to_date", "last_30_days")
OUTCOMES = ("fast_track", "standard_review", "rejected", "pending")
ALL_PLATFORMS = "*"
#: A figure resting on 1 to SMALL_CELL_MAX workers is suppressed.
SMALL_CELL_MAX = 4


def periods_of(day: date) -> list[tuple[str, date, date]]:
    return [("day", day, day), ("month_to_date", day.replace(day=1), day),
            ("last_30_days", day - timedelta(days=29), day)]


def detail_window_start(day: date) -> date:
    """The first day the reports of ``day`` read in detail: the CSV's periods and the
    daily trends (month to date, last 30 days). Earlier months of the monthly trends
    are read as they stood at their end (claims.reports.trends)."""
    return min(day.replace(day=1), day - timedelta(days=29))


def window_start(day: date) -> date:
    """The first day of 12 months of monthly trends."""
    first = day.replace(day=1)
    for _ in range(11):
        first = (first - timedelta(days=1)).replace(day=1)
    return min(first, day - timedelta(days=29))


def ratio(numerator: int, denominator: int, places: int) -> str:
    """numerator / denominator rounded half up to ``places`` decimals, exactly
    (integers, no floating point); empty when the denominator is 0."""
    if denominator == 0:
        return ""
    scaled = numerator * 10 ** places * 2 + denominator
    quotient = scaled // (2 * denominator)
    whole, fraction = divmod(quotient, 10 ** places)
    return f"{whole}.{fraction:0{places}d}" if places else str(whole)


def nearest_rank(values: list[int], share: float) -> int:
    """The nearest-rank percentile of sorted ``values`` (a value that occurred)."""
    import math

    return values[max(0, math.ceil(share * len(values)) - 1)]


@dataclass
class Figure:
    """A figure's value and the workers it rests on."""

    value: int = 0
    workers: set[str] = field(default_factory=set)

    def add(self, amount: int, worker: str) -> None:
        self.value += amount
        self.workers.add(worker)

    @property
    def small(self) -> bool:
        return 1 <= len(self.workers) <= SMALL_CELL_MAX


@dataclass
class ClaimView:
    key: ClaimKey
    province_code: str
    worker_ref: str
    filed_on: date
    outcome: str | None
    first_paid_on: date | None
    past_deadline: bool


def claim_views(snapshot: Snapshot) -> list[ClaimView]:
    """Every claim with what the report needs of it, as of D."""
    latest = snapshot.latest_decisions()
    first_paid: dict[ClaimKey, date] = {}
    for item in snapshot.items:
        if item.released:
            key = (item.platform_code, item.claim_id)
            if key not in first_paid or item.business_day < first_paid[key]:
                first_paid[key] = item.business_day
    payable = snapshot.latest_payable()
    late_payment = {key for key, (owed, _items) in owed_by_claim(snapshot).items()
                    if owed > 0 and (pay_by := payable[key].pay_by) is not None and pay_by < snapshot.day}
    late_confirmation = {key for key, confirm_by in snapshot.awaiting.items() if confirm_by < snapshot.day}
    views = []
    for key, facts in snapshot.claims.items():
        decision = latest.get(key)
        views.append(ClaimView(key, facts.province_code, facts.worker_ref, facts.filed_on,
                               decision.outcome if decision else None, first_paid.get(key),
                               key in late_payment or key in late_confirmation))
    return views


class Figures:
    """The report's figures for one (province, platform or all, period)."""

    def __init__(self) -> None:
        self.insured = Figure()
        self.orders = Figure()
        self.premium = Figure()
        self.claims = Figure()
        self.outcomes = {outcome: Figure() for outcome in OUTCOMES}
        self.benefits = Figure()
        self.past_deadline = Figure()
        self.days_to_payment: list[int] = []
        self.paid_workers: set[str] = set()

    def row(self) -> dict[str, object]:
        """The CSV's figure columns, suppressed where they rest on 1 to 4 workers."""
        suppressed: list[str] = []
        values: dict[str, object] = {}

        def put(column: str, figure: Figure) -> None:
            if figure.small:
                suppressed.append(column)
                values[column] = ""
            else:
                values[column] = figure.value

        workers = Figure(len(self.insured.workers), self.insured.workers)
        put("insured_workers", workers)
        put("orders", Figure(self.orders.value, self.insured.workers))
        put("premium_fen", Figure(self.premium.value, self.insured.workers))
        put("claims_filed", self.claims)
        for outcome in OUTCOMES:
            put(outcome, self.outcomes[outcome])
        put("benefits_paid_fen", self.benefits)

        def derived(column: str, inputs: Iterable[str], value: str) -> None:
            if any(name in suppressed for name in inputs):
                suppressed.append(column)
                values[column] = ""
            else:
                values[column] = value

        derived("fast_track_share", ("fast_track", "claims_filed"),
                ratio(self.outcomes["fast_track"].value, self.claims.value, 4))
        derived("payout_ratio", ("benefits_paid_fen", "premium_fen"), ratio(self.benefits.value, self.premium.value, 4))
        derived("accident_rate_per_million", ("claims_filed", "orders"),
                ratio(self.claims.value * 10 ** 6, self.orders.value, 2))
        days = sorted(self.days_to_payment)
        paid_small = 1 <= len(self.paid_workers) <= SMALL_CELL_MAX
        for column, share in (("median_days_to_payment", 0.5), ("p90_days_to_payment", 0.9)):
            if paid_small:
                suppressed.append(column)
                values[column] = ""
            else:
                values[column] = nearest_rank(days, share) if days else ""
        put("past_deadline", self.past_deadline)
        values["suppressed"] = ";".join(column for column in PROVINCE_COLUMNS if column in suppressed)
        return values


@dataclass
class DatedFacts:
    """The snapshot's rows by the day they count on, so that the figures of a span
    read only that span's days (a report's 45 spans never pass over the whole history)."""

    workers: dict[date, list[tuple[str, str, set[str]]]] = field(default_factory=lambda: defaultdict(list))
    orders: dict[date, list] = field(default_factory=lambda: defaultdict(list))
    filed: dict[date, list[ClaimView]] = field(default_factory=lambda: defaultdict(list))
    first_paid: dict[date, list[ClaimView]] = field(default_factory=lambda: defaultdict(list))
    #: (province, platform, claimant, fen): released items on their day, returns (negative) on theirs
    money: dict[date, list[tuple[str, str, str, int]]] = field(default_factory=lambda: defaultdict(list))


def dated_facts(snapshot: Snapshot, views: list[ClaimView]) -> DatedFacts:
    cached = snapshot.indexes.get(id(views))
    if cached is not None and cached[0] is views:
        return cached[1]
    facts = DatedFacts()
    for (province, platform, accepted), refs in snapshot.workers.items():
        facts.workers[accepted].append((province, platform, refs))
    for group in snapshot.orders:
        facts.orders[group.accepted_date].append(group)
    for view in views:
        facts.filed[view.filed_on].append(view)
        if view.first_paid_on is not None:
            facts.first_paid[view.first_paid_on].append(view)
    claimants = dict(snapshot.claimants)
    claimants.update((view.key, view.worker_ref) for view in views)
    for item in snapshot.items:
        worker = claimants.get((item.platform_code, item.claim_id), f"{item.platform_code}:{item.claim_id}")
        if item.released:
            facts.money[item.business_day].append((item.province_code, item.platform_code, worker, item.amount_fen))
        if item.returned_on is not None:
            facts.money[item.returned_on].append((item.province_code, item.platform_code, worker, -item.amount_fen))
    snapshot.indexes[id(views)] = (views, facts)
    return facts


def figures_by_group(snapshot: Snapshot, views: list[ClaimView], start: date, end: date,
                     by_platform: bool = True) -> dict[tuple[str, str], Figures]:
    """Figures of every (province, platform) and (province, '*') over [start, end]."""
    groups: dict[tuple[str, str], Figures] = defaultdict(Figures)
    facts = dated_facts(snapshot, views)

    def targets(province: str, platform: str) -> list[Figures]:
        found = [groups[(province, ALL_PLATFORMS)]]
        if by_platform:
            found.append(groups[(province, platform)])
        return found

    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    for day in days:
        for province, platform, refs in facts.workers.get(day, ()):
            for figures in targets(province, platform):
                figures.insured.workers.update(refs)
        for group in facts.orders.get(day, ()):
            for figures in targets(group.province_code, group.platform_code):
                figures.orders.value += group.orders
                figures.premium.value += group.premium_fen
        for view in facts.filed.get(day, ()):
            for figures in targets(view.province_code, view.key[0]):
                figures.claims.add(1, view.worker_ref)
                if view.outcome in figures.outcomes:
                    figures.outcomes[view.outcome].add(1, view.worker_ref)
                if view.past_deadline:
                    figures.past_deadline.add(1, view.worker_ref)
        for view in facts.first_paid.get(day, ()):
            for figures in targets(view.province_code, view.key[0]):
                assert view.first_paid_on is not None
                figures.days_to_payment.append((view.first_paid_on - view.filed_on).days)
                figures.paid_workers.add(view.worker_ref)
        for province, platform, worker, fen in facts.money.get(day, ()):
            for figures in targets(province, platform):
                figures.benefits.add(fen, worker)
    return groups


def province_report(snapshot: Snapshot, provinces: Iterable[str],
                    views: list[ClaimView] | None = None) -> list[dict[str, object]]:
    """The lines of province_report.csv: every province given (the pilot
    provinces) and every province with activity, every platform active in the
    last 30 days or the month, and '*' for all; ordered by province, platform
    ('*' first), then period (day, month to date, last 30 days)."""
    views = claim_views(snapshot) if views is None else views
    by_period = {name: figures_by_group(snapshot, views, start, end) for name, start, end in periods_of(snapshot.day)}
    keys = {(province, ALL_PLATFORMS) for province in provinces}
    for groups in by_period.values():
        keys.update(key for key in groups if key[0])
    keys |= {(province, ALL_PLATFORMS) for province, _platform in keys}
    lines = []
    for province, platform in sorted(keys):
        for name, start, end in periods_of(snapshot.day):
            figures = by_period[name].get((province, platform)) or Figures()
            line: dict[str, object] = {"province_code": province, "platform_code": platform, "period": name,
                                       "period_start": start.isoformat(), "period_end": end.isoformat()}
            line.update(figures.row())
            lines.append(line)
    return lines


def trend_spans(day: date) -> dict[str, list[tuple[date, date]]]:
    """The last 30 days one by one, and the last 12 months (the current one to D)."""
    daily = [(day - timedelta(days=offset), day - timedelta(days=offset)) for offset in range(29, -1, -1)]
    monthly = []
    first = day.replace(day=1)
    for _ in range(12):
        last = min(day, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))
        monthly.append((first, last))
        first = (first - timedelta(days=1)).replace(day=1)
    monthly.reverse()
    return {"daily": daily, "monthly": monthly}


def all_trends(snapshot: Snapshot, views: list[ClaimView],
               past_months: Mapping[str, Mapping[str, dict[str, object]]] | None = None,
               ) -> dict[str | None, dict[str, list[dict[str, object]]]]:
    """Daily figures over the last 30 days and monthly over the last 12 months, for
    every province (all platforms), the whole country (key None) and a province
    without activity (key ""), suppressed like the CSV; one pass per span.
    ``past_months``: the rows of months before D's month, by month and province
    ('*' the country), as those months stood at their end (claims.reports.trends);
    without them every month is computed from the snapshot."""
    result: dict[str | None, dict[str, list[dict[str, object]]]] = defaultdict(lambda: defaultdict(list))
    for name, spans in trend_spans(snapshot.day).items():
        for index, (start, end) in enumerate(spans):
            label = _label(name, start)
            stored = (past_months or {}).get(label) if name == "monthly" else None
            if stored is not None:
                rows: list[tuple[str | None, dict[str, object]]] = [
                    (None if province == ALL_PLATFORMS else province, dict(row)) for province, row in stored.items()]
            else:
                groups = figures_by_group(snapshot, views, start, end, by_platform=False)
                total = Figures()
                for figures in groups.values():
                    _merge(total, figures)
                rows = [*((p, f.row()) for (p, _all), f in groups.items()), (None, total.row())]
            for province, row in [*rows, ("", Figures().row())]:
                series = result[province][name]
                while len(series) < index:  # a province without figures in earlier spans: empty ones
                    series.append(dict(Figures().row(), start=spans[len(series)][0].isoformat(),
                                       label=_label(name, spans[len(series)][0])))
                series.append(dict(row, start=start.isoformat(), label=label))
    for series_by_name in result.values():
        for name, spans in trend_spans(snapshot.day).items():
            series = series_by_name[name]
            while len(series) < len(spans):
                series.append(dict(Figures().row(), start=spans[len(series)][0].isoformat(),
                                   label=_label(name, spans[len(series)][0])))
    return result


def month_rows(snapshot: Snapshot, start: date, end: date) -> dict[str, dict[str, object]]:
    """The trend rows of one span by province ('*' the country), from the snapshot."""
    groups = figures_by_group(snapshot, claim_views(snapshot), start, end, by_platform=False)
    total = Figures()
    for figures in groups.values():
        _merge(total, figures)
    rows = {province: figures.row() for (province, _all), figures in groups.items()}
    rows[ALL_PLATFORMS] = total.row()
    return rows


def _label(name: str, start: date) -> str:
    return start.strftime("%m-%d") if name == "daily" else start.strftime("%Y-%m")


def _merge(total: Figures, figures: Figures) -> None:
    total.insured.workers |= figures.insured.workers
    for mine, theirs in ((total.orders, figures.orders), (total.premium, figures.premium),
                         (total.claims, figures.claims), (total.benefits, figures.benefits),
                         (total.past_deadline, figures.past_deadline),
                         *((total.outcomes[o], figures.outcomes[o]) for o in OUTCOMES)):
        mine.value += theirs.value
        mine.workers |= theirs.workers
    total.days_to_payment += figures.days_to_payment
    total.paid_workers |= figures.paid_workers


def national(snapshot: Snapshot, views: list[ClaimView]) -> list[dict[str, object]]:
    """The country's figures for the three periods (all provinces, all platforms)."""
    rows = []
    for name, start, end in periods_of(snapshot.day):
        total = Figures()
        for (_province, platform), figures in figures_by_group(snapshot, views, start, end, by_platform=False).items():
            if platform == ALL_PLATFORMS:
                _merge(total, figures)
        row = total.row()
        row.update(period=name, period_start=start.isoformat(), period_end=end.isoformat())
        rows.append(row)
    return rows
