"""Reports: reconciliation for finance and the province report for officials,
rendered from the ledger only (never the landing zone) under
``reports/date={D}/`` (CONTRACT.md, Reports). No personal data: the reports read
pseudonyms, codes, dates and amounts, and publish aggregates and claim ids.

Rendered from the ledger as of D, without the clock: a re-run of D writes the
same bytes. A payout tie-out that does not hold fails the run after the files
are written (a system fault); a premium difference is a finding, reported.
"""

from __future__ import annotations

from datetime import date

from claims.settings import Settings, load_settings, setting

#: Days a released payout item may wait for the bank's answer before it is listed.
DEFAULT_IN_TRANSIT_ALERT_DAYS = 5


class PayoutTieOutError(RuntimeError):
    """The ledger's balances do not equal what the payout records call for."""


def in_transit_alert_days() -> int:
    """``CLAIMS_IN_TRANSIT_ALERT_DAYS`` (default 5)."""
    value = (setting("CLAIMS_IN_TRANSIT_ALERT_DAYS") or "").strip()
    if not value:
        return DEFAULT_IN_TRANSIT_ALERT_DAYS
    days = int(value)
    if days < 0:
        raise ValueError("CLAIMS_IN_TRANSIT_ALERT_DAYS is a number of days, 0 or more")
    return days


def report_day(day: date, settings: Settings | None = None, *, province: str | None = None,
               check: bool = True) -> dict[str, object]:
    """Render D's reports into the outbox; raise PayoutTieOutError afterwards when
    the payout tie-out does not hold (``check``). ``province`` limits the HTML
    pages rendered to one province (the CSVs always cover every province)."""
    from claims.ledger.db import engine_for, upgrade
    from claims.reports.render import render_reports
    from claims.reports.snapshot import load_snapshot
    from claims.store import open_store

    settings = settings or load_settings()
    upgrade(settings.database_url)
    from sqlalchemy.orm import Session

    from claims.reports.province import detail_window_start
    from claims.reports.reconcile import payout_reconciliation_as_of
    from claims.reports.totals import finance_files
    from claims.reports.trends import past_months

    engine = engine_for(settings.database_url)
    window = detail_window_start(day)
    alert_days = in_transit_alert_days()
    payouts = payout_reconciliation_as_of(engine, day, alert_days,
                                          lambda: load_snapshot(engine, day, None, window, history=True))
    with Session(engine) as session:
        finance = finance_files(session, day)
    lake = open_store(settings.lake_url)
    months = past_months(engine, lake, day)
    snapshot = load_snapshot(engine, day, lake, window)
    outbox = open_store(settings.outbox_url)
    result = render_reports(snapshot, outbox, alert_days, only_province=province, payouts=payouts,
                            extra_files=finance, past_months=months)
    if check and not result.payouts_tie_out:
        raise PayoutTieOutError(
            f"payouts of {day.isoformat()} do not tie out in province(s) {', '.join(result.differing_provinces)}: "
            f"see reports/date={day.isoformat()}/payout_exceptions.csv")
    return result.as_dict()
