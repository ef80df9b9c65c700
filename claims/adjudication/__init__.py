"""Adjudication: deciding each claim by its province's versioned fast-track rules.

``rules.py`` is the pure rule engine: facts in, an evaluation out (outcome, every
reason that applied, the rule-set version, and each rule's inputs and verdict). It
reads nothing but the rule-set data files in ``claims/reference/data/rule_sets/``.
"""

from __future__ import annotations

from datetime import date, timedelta

from claims.settings import Settings, load_settings


def adjudicate_day(day: date, settings: Settings | None = None) -> dict:
    """Decide the day's claims and publish decisions, determinations and deadlines."""
    from claims.adjudication.pipeline import Adjudicator
    from claims.adjudication.publish import publish_decisions
    from claims.adjudication.rules import Policy, load_rule_sets
    from claims.ledger.db import engine_for, upgrade
    from claims.store import open_store
    from claims.workdays import WorkCalendar

    settings = settings or load_settings()
    upgrade(settings.database_url)
    engine = engine_for(settings.database_url)
    calendar = WorkCalendar.load()
    policy = Policy(coverage_grace=timedelta(seconds=settings.coverage_grace_seconds),
                    pending_max_days=settings.pending_max_days)
    result = Adjudicator(engine, open_store(settings.lake_url), load_rule_sets(), calendar, policy).run(day)
    published = publish_decisions(engine, open_store(settings.outbox_url), day, calendar,
                                  settings.deadline_warning_working_days, result.rules_published)
    return {
        "business_day": day.isoformat(), "orders_linked": result.orders_linked, "decided": result.decided,
        "determinations": result.determinations, "calendar_estimated": result.calendar_estimated,
        "published": published,
    }
