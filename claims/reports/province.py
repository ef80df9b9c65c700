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

The claims side comes as cells aggregated in SQL from the claims' states
(claims.reports.claim_state): per day, province, platform and outcome, a count
and who it rests on (5 or more, or exactly which workers), so a period's figure
is exact without reading its claims. Days to payment count every claim whose
first payment was released in the period, whenever it was filed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from claims.reports.claim_state import Claimants, ClaimCells
from claims.reports.snapshot import Snapshot

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


@dataclass
class Figure:
    """A figure's value and the workers it rests on: ``many`` when 5 or more
    (which ones no longer matters), else exactly ``workers``."""

    value: int = 0
    workers: set[str] = field(default_factory=set)
    many: bool = False

    def add(self, amount: int, worker: str) -> None:
        self.value += amount
        self.workers.add(worker)

    def add_cell(self, amount: int, claimants: Claimants) -> None:
        """A cell's value and claimants (claims.reports.claim_state)."""
        self.value += amount
        self.rest_on(claimants)

    def rest_on(self, claimants: Claimants) -> None:
        if claimants.many:
            self.many = True
        else:
            self.workers |= claimants.workers

    def merge(self, other: Figure) -> None:
        self.value += other.value
        self.many = self.many or other.many
        self.workers |= other.workers

    @property
    def small(self) -> bool:
        return not self.many and 1 <= len(self.workers) <= SMALL_CELL_MAX


def claim_views(snapshot: Snapshot) -> ClaimCells:
    """The claims side of the report as of D: its cells (claims.reports.claim_state)."""
    if snapshot.cells is None:
        raise ValueError("the snapshot was loaded without the claims' cells")
    return snapshot.cells


def _percentile(histogram: Mapping[int, int], share: float) -> int:
    """The nearest-rank percentile of the values a histogram counts."""
    import math

    rank = max(1, math.ceil(share * sum(histogram.values())))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise ValueError("an empty histogram has no percentile")


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
        #: days from filing to the first payment -> claims
        self.days_to_payment: dict[int, int] = {}
        self.paid_workers = Figure()

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
        for column, share in (("median_days_to_payment", 0.5), ("p90_days_to_payment", 0.9)):
            if self.paid_workers.small:
                suppressed.append(column)
                values[column] = ""
            else:
                values[column] = _percentile(self.days_to_payment, share) if self.days_to_payment else ""
        put("past_deadline", self.past_deadline)
        values["suppressed"] = ";".join(column for column in PROVINCE_COLUMNS if column in suppressed)
        return values

    def merge(self, other: Figures) -> None:
        self.insured.workers |= other.insured.workers
        for mine, theirs in ((self.orders, other.orders), (self.premium, other.premium),
                             (self.claims, other.claims), (self.benefits, other.benefits),
                             (self.past_deadline, other.past_deadline), (self.paid_workers, other.paid_workers),
                             *((self.outcomes[o], other.outcomes[o]) for o in OUTCOMES)):
            mine.merge(theirs)
        for waited, claims in other.days_to_payment.items():
            self.days_to_payment[waited] = self.days_to_payment.get(waited, 0) + claims


@dataclass
class DatedFacts:
    """The snapshot's rows by the day they count on, so that the figures of a span
    read only that span's days (a report's 45 spans never pass over the whole history)."""

    workers: dict[date, list[tuple[str, str, set[str]]]] = field(default_factory=lambda: defaultdict(list))
    orders: dict[date, list] = field(default_factory=lambda: defaultdict(list))


def dated_facts(snapshot: Snapshot) -> DatedFacts:
    cached = snapshot.indexes.get(0)
    if cached is not None:
        return cached[1]  # type: ignore[no-any-return]
    facts = DatedFacts()
    for (province, platform, accepted), refs in snapshot.workers.items():
        facts.workers[accepted].append((province, platform, refs))
    for group in snapshot.orders:
        facts.orders[group.accepted_date].append(group)
    snapshot.indexes[0] = (None, facts)
    return facts


def figures_by_group(snapshot: Snapshot, cells: ClaimCells, start: date, end: date,
                     by_platform: bool = True) -> dict[tuple[str, str], Figures]:
    """Figures of every (province, platform) and (province, '*') over [start, end]."""
    groups: dict[tuple[str, str], Figures] = defaultdict(Figures)
    facts = dated_facts(snapshot)

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
        for province, platform, outcome, late, claims, claimants in cells.filed.get(day, ()):
            for figures in targets(province, platform):
                figures.claims.add_cell(claims, claimants)
                if outcome in figures.outcomes:
                    figures.outcomes[outcome].add_cell(claims, claimants)  # type: ignore[index]
                if late:
                    figures.past_deadline.add_cell(claims, claimants)
        for province, platform, histogram, claimants in cells.first_paid.get(day, ()):
            for figures in targets(province, platform):
                for waited, claims in histogram.items():
                    figures.days_to_payment[waited] = figures.days_to_payment.get(waited, 0) + claims
                figures.paid_workers.rest_on(claimants)
        for province, platform, fen, claimants in cells.money.get(day, ()):
            for figures in targets(province, platform):
                figures.benefits.add_cell(fen, claimants)
    return groups


def province_report(snapshot: Snapshot, provinces: Iterable[str],
                    views: ClaimCells | None = None) -> list[dict[str, object]]:
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


def all_trends(snapshot: Snapshot, views: ClaimCells,
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
                    total.merge(figures)
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
        total.merge(figures)
    rows = {province: figures.row() for (province, _all), figures in groups.items()}
    rows[ALL_PLATFORMS] = total.row()
    return rows


def _label(name: str, start: date) -> str:
    return start.strftime("%m-%d") if name == "daily" else start.strftime("%Y-%m")


def national(snapshot: Snapshot, views: ClaimCells) -> list[dict[str, object]]:
    """The country's figures for the three periods (all provinces, all platforms)."""
    rows = []
    for name, start, end in periods_of(snapshot.day):
        total = Figures()
        for (_province, platform), figures in figures_by_group(snapshot, views, start, end, by_platform=False).items():
            if platform == ALL_PLATFORMS:
                total.merge(figures)
        row = total.row()
        row.update(period=name, period_start=start.isoformat(), period_end=end.isoformat())
        rows.append(row)
    return rows
