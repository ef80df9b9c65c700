"""The monthly trends' past months, as each stood at its end.

A past month's row (the claims first filed in it, its orders, payouts and the
workers behind them, as of the month's last day) is a function of the ledger
alone: it is computed once, from a snapshot of that month, and kept in
``report_trend_month``; a day's report reads the eleven rows instead of eleven
months of claims. The current month is computed from the day's own snapshot, as
of D, like the CSV's ``month_to_date``.
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from claims.ledger.models import ReportTrendMonth
from claims.reports.province import month_rows, trend_spans
from claims.reports.snapshot import load_snapshot
from claims.store import Store


def past_months(engine: Engine, lake: Store | None, day: date) -> dict[str, dict[str, dict[str, object]]]:
    """The rows of the months of D's monthly trends before D's month, by month
    ('YYYY-MM') and province ('*' the country); computed and kept when missing."""
    spans = [(first, last) for first, last in trend_spans(day)["monthly"] if last < day.replace(day=1)]
    labels = [first.strftime("%Y-%m") for first, _last in spans]
    with Session(engine) as session:
        kept = {month: json.loads(body) for month, body in session.execute(
            select(ReportTrendMonth.month, ReportTrendMonth.body).where(ReportTrendMonth.month.in_(labels)))}
    for (first, last), label in zip(spans, labels, strict=True):
        if label in kept:
            continue
        snapshot = load_snapshot(engine, last, lake, first)  # as of the month's last day
        rows = month_rows(snapshot, first, last)
        body = json.dumps(rows, sort_keys=True, ensure_ascii=False)
        try:
            with Session(engine) as session, session.begin():
                session.add(ReportTrendMonth(month=label, body=body))
        except IntegrityError:  # another report kept it meanwhile: the same rows
            pass
        kept[label] = json.loads(body)
    return kept
