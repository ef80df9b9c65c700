"""The reports' files: CSVs for machines (CONTRACT.md's columns), a JSON summary,
and HTML for people rendered with Jinja2 from ``templates/reports/``, charts as
inline SVG drawn by pygal. Everything comes from the same figures; nothing
reads the clock, so a re-run writes the same bytes."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from claims.csvtext import dict_csv_bytes
from claims.reports.claim_state import ClaimCells
from claims.reports.province import (
    ALL_PLATFORMS,
    PROVINCE_COLUMNS,
    all_trends,
    claim_views,
    national,
    province_report,
)
from claims.reports.reconcile import (
    EXCEPTION_COLUMNS,
    PAYOUT_COLUMNS,
    PREMIUM_COLUMNS,
    PayoutReconciliation,
    payout_reconciliation,
    premium_reconciliation,
)
from claims.reports.snapshot import Snapshot
from claims.store import Store

CSV_FILES = ("premium_reconciliation.csv", "payout_reconciliation.csv", "payout_exceptions.csv", "province_report.csv")


@dataclass
class Rendered:
    day_text: str
    files: list[str]
    payouts_tie_out: bool
    differing_provinces: list[str]
    exceptions: int
    premium_lines_differing: int

    def as_dict(self) -> dict[str, object]:
        return {"business_day": self.day_text, "files": self.files, "payouts_tie_out": self.payouts_tie_out,
                "differing_provinces": self.differing_provinces, "payout_exceptions": self.exceptions,
                "premium_lines_differing": self.premium_lines_differing}


def render_reports(snapshot: Snapshot, outbox: Store, in_transit_alert_days: int,
                   only_province: str | None = None, payouts: PayoutReconciliation | None = None,
                   extra_files: dict[str, bytes] | None = None,
                   past_months: dict[str, dict[str, dict[str, object]]] | None = None) -> Rendered:
    """Every file of ``reports/date={D}/``; ``payouts`` as reconciled from the running
    totals (else from the snapshot's whole history), ``extra_files`` the finance CSVs."""
    from claims.reference import load_reference

    reference = load_reference()
    day = snapshot.day
    prefix = f"reports/date={day.isoformat()}"
    premiums = premium_reconciliation(snapshot)
    if payouts is None:
        payouts = payout_reconciliation(snapshot, in_transit_alert_days)
    views = claim_views(snapshot)
    pilot = sorted(reference.pilot_provinces(day))
    provinces = province_report(snapshot, pilot, views)
    files: dict[str, bytes] = {
        "premium_reconciliation.csv": dict_csv_bytes(PREMIUM_COLUMNS, premiums),
        "payout_reconciliation.csv": dict_csv_bytes(PAYOUT_COLUMNS, payouts.lines),
        "payout_exceptions.csv": dict_csv_bytes(EXCEPTION_COLUMNS, payouts.exceptions),
        "province_report.csv": dict_csv_bytes(PROVINCE_COLUMNS, provinces),
        **(extra_files or {}),
    }
    differing_premiums = sum(1 for line in premiums if line["status"] == "differs" or line["mismatched_orders"])
    summary = {
        "business_day": day.isoformat(),
        "payouts_tie_out": payouts.ties,
        "differing_provinces": payouts.differing_provinces,
        "payout_exceptions": len(payouts.exceptions),
        "premium_lines": len(premiums),
        "premium_lines_differing": differing_premiums,
        "files": [*CSV_FILES],
    }
    html = HtmlReports(snapshot, reference, premiums, payouts.lines, payouts.exceptions, provinces, views,
                       summary, past_months)
    province_codes = sorted({str(line["province_code"]) for line in provinces})
    files["index.html"] = html.overview(province_codes)
    files["finance.html"] = html.finance()
    for code in province_codes:
        if only_province is None or code == only_province:
            files[f"province={code}.html"] = html.province(code)
    # every file of the day, whichever pages this run rendered (the same bytes either way)
    summary["files"] = sorted({*files, "summary.json", *(f"province={code}.html" for code in province_codes)})
    files["summary.json"] = (json.dumps(summary, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    for name in sorted(files):
        outbox.write_bytes(f"{prefix}/{name}", files[name])
    return Rendered(day.isoformat(), sorted(files), payouts.ties, payouts.differing_provinces,
                    len(payouts.exceptions), differing_premiums)


# -- HTML --------------------------------------------------------------------------------------
def templates_folder() -> Path:
    """templates/ of the source tree, or the installed copy (package claims_templates)."""
    try:
        import claims_templates

        return Path(claims_templates.__file__).resolve().parent
    except ImportError:  # pragma: no cover - the source tree without an install
        return Path(__file__).resolve().parents[2] / "templates"


def yuan(value: object) -> str:
    """Fen as yuan for people: ¥1,234.56; empty (none or suppressed) as a dash."""
    if value == "" or value is None:
        return "—"
    fen = int(value)  # type: ignore[call-overload]
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def count(value: object) -> str:
    if value == "" or value is None:
        return "—"
    return f"{int(value):,}"  # type: ignore[call-overload]


def percent(value: object) -> str:
    """A ratio as a percentage with two decimals (exact: the CSV's decimal text)."""
    if value == "" or value is None:
        return "—"
    return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.01')):,}%"


def number(value: object) -> str:
    if value == "" or value is None:
        return "—"
    return f"{Decimal(str(value)):,}"


_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCRIPT = re.compile(r"<script.*?</script>", re.S)
_FONT = "'Noto Sans CJK SC','WenQuanYi Zen Hei','Microsoft YaHei',sans-serif"


def chart(chart_id: str, title: str, labels: list[str], series: list[tuple[str, list[float | None]]],
          kind: str = "line", percent_axis: bool = False) -> str:
    """An inline SVG chart drawn by pygal: no script, no comment (pygal stamps
    the date in one), a fixed id instead of pygal's random one. Identical charts
    (provinces without activity) are drawn once."""
    frozen = tuple((name, tuple(values)) for name, values in series)
    return _chart(title, tuple(labels), frozen, kind, percent_axis).replace(_CHART_ID, chart_id)


_CHART_ID = "claims-chart-id"


@functools.lru_cache(maxsize=256)
def _chart(title: str, labels: tuple[str, ...], series: tuple[tuple[str, tuple[float | None, ...]], ...],
           kind: str, percent_axis: bool) -> str:
    import pygal
    from pygal.style import Style

    style = Style(font_family=_FONT, label_font_family=_FONT, major_label_font_family=_FONT,
                  value_font_family=_FONT, value_label_font_family=_FONT, tooltip_font_family=_FONT,
                  title_font_family=_FONT, legend_font_family=_FONT, no_data_font_family=_FONT,
                  background="white", plot_background="white", title_font_size=14, legend_font_size=11,
                  label_font_size=9, major_label_font_size=9, no_data_font_size=14,
                  colors=("#1f5fa8", "#d9822b", "#3a8f3a", "#a83232"))
    kinds = {"line": pygal.Line, "bar": pygal.Bar}
    graph = kinds[kind](js=[], disable_xml_declaration=True, width=720, height=260, style=style, title=title,
                        show_dots=True, dots_size=2, x_label_rotation=45, legend_at_bottom=True,
                        show_minor_x_labels=len(labels) <= 12, x_labels_major_every=5 if len(labels) > 12 else None,
                        no_data_text="无数据 No data", allow_interruptions=True, print_values=False,
                        value_formatter=(lambda v: f"{v:.2f}%") if percent_axis else (lambda v: f"{v:,.2f}"))
    graph.uuid = _CHART_ID
    graph.x_labels = list(labels)
    for name, values in series:
        graph.add(name, list(values))
    svg = graph.render(is_unicode=True)
    return _SCRIPT.sub("", _COMMENT.sub("", svg))


def _float(value: object, scale: int = 1) -> float | None:
    if value == "" or value is None:
        return None
    return float(Decimal(str(value)) * scale)


class HtmlReports:
    def __init__(self, snapshot: Snapshot, reference: object, premiums: list[dict[str, object]],
                 payout_lines: list[dict[str, object]], exceptions: list[dict[str, object]],
                 provinces: list[dict[str, object]], views: ClaimCells, summary: dict[str, object],
                 past_months: dict[str, dict[str, dict[str, object]]] | None = None) -> None:
        import jinja2

        self.snapshot = snapshot
        self.reference = reference
        self.premiums = premiums
        self.payout_lines = payout_lines
        self.exceptions = exceptions
        self.provinces = provinces
        self.views = views
        self.summary = summary
        self.trends = all_trends(snapshot, views, past_months)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_folder() / "reports")),
                                      autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        self.env.filters.update(yuan=yuan, count=count, percent=percent, number=number)

    def _names(self) -> dict[str, object]:
        reference = self.reference
        provinces = {code: f"{p.name_zh} {p.name}" for code, p in reference.provinces.items()}  # type: ignore[attr-defined]
        platforms = {code: f"{p.name_zh} {p.name}" for code, p in reference.platforms.items()}  # type: ignore[attr-defined]
        platforms[ALL_PLATFORMS] = "全部平台 All platforms"
        return {"province_names": provinces, "platform_names": platforms}

    def _page(self, template: str, **values: object) -> bytes:
        page = self.env.get_template(template).render(day=self.snapshot.day.isoformat(), summary=self.summary,
                                                      **self._names(), **values)
        return page.encode("utf-8")

    def _charts(self, chart_prefix: str, series: dict[str, list[dict[str, object]]]) -> list[str]:
        daily, monthly = series["daily"], series["monthly"]
        days = [str(row["label"]) for row in daily]
        months = [str(row["label"]) for row in monthly]
        return [
            chart(f"{chart_prefix}-orders", "每日订单数 Orders per day (30 天 days)", days,
                  [("订单 Orders", [_float(row["orders"]) for row in daily])], kind="bar"),
            chart(f"{chart_prefix}-claims", "每日申请数 Claims filed per day (30 天 days)", days,
                  [("申请 Claims", [_float(row["claims_filed"]) for row in daily])], kind="bar"),
            chart(f"{chart_prefix}-rate", "事故率（每百万单）Accident rate per million orders (12 个月 months)", months,
                  [("事故率 Accident rate", [_float(row["accident_rate_per_million"]) for row in monthly])]),
            chart(f"{chart_prefix}-shares", "快赔占比与支缴率 Fast-track share and payout ratio (12 个月 months)",
                  months,
                  [("快赔占比 Fast-track share", [_float(row["fast_track_share"], 100) for row in monthly]),
                   ("支缴率 Payout ratio", [_float(row["payout_ratio"], 100) for row in monthly])],
                  percent_axis=True),
            chart(f"{chart_prefix}-days", "申请至支付天数 Days from filing to payment (12 个月 months)", months,
                  [("中位数 Median", [_float(row["median_days_to_payment"]) for row in monthly]),
                   ("90% 分位 90th percentile", [_float(row["p90_days_to_payment"]) for row in monthly])]),
        ]

    def overview(self, province_codes: list[str]) -> bytes:
        rows = {(line["province_code"], line["period"]): line for line in self.provinces
                if line["platform_code"] == ALL_PLATFORMS}
        return self._page("overview.html.j2", national=national(self.snapshot, self.views),
                          provinces=[(code, {period: rows.get((code, period)) for period in
                                             ("day", "month_to_date", "last_30_days")}) for code in province_codes],
                          charts=self._charts("national", self.trends[None]))

    def province(self, code: str) -> bytes:
        lines = [line for line in self.provinces if line["province_code"] == code]
        totals = {line["period"]: line for line in lines if line["platform_code"] == ALL_PLATFORMS}
        platforms = sorted({str(line["platform_code"]) for line in lines} - {ALL_PLATFORMS})
        by_platform = [(platform, {line["period"]: line for line in lines if line["platform_code"] == platform})
                       for platform in platforms]
        return self._page("province.html.j2", code=code, totals=totals, by_platform=by_platform,
                          charts=self._charts(f"p{code}", self.trends.get(code) or self.trends[""]))

    def finance(self) -> bytes:
        return self._page("finance.html.j2", payout_lines=self.payout_lines, exceptions=self.exceptions,
                          premiums=self.premiums)
