"""Ingestion of the platforms' orders and claims for a business day."""

from __future__ import annotations

import json
import logging
from datetime import date

from claims.ledger.db import engine_for, upgrade
from claims.reference import load_reference
from claims.settings import Settings, load_settings
from claims.store import open_store

SOURCES = ("orders", "claims", "determinations", "bank_returns", "declarations")

log = logging.getLogger(__name__)


def ingest_source(source: str, day: date, extra_dates: tuple[date, ...] = (), settings: Settings | None = None) -> dict:
    """Ingest every new file of ``source`` in day's window; returns a small summary."""
    from claims.ingest.pipeline import Ingestor

    settings = settings or load_settings()
    upgrade(settings.database_url)
    ingestor = Ingestor(
        settings, load_reference(), open_store(settings.landing_url), open_store(settings.lake_url),
        engine_for(settings.database_url),
    )
    log.info("%s %s: reading the partitions of %s and the %d days before", source, day, day,
             settings.late_window_days)
    run = ingestor.run(source, day, extra_dates)
    log.info(
        "%s %s: %d new file(s), rows in=%d loaded=%d unchanged=%d rejected=%d; not arrived: %s",
        source, day, len(run.files), sum(f.rows_in for f in run.files), sum(f.rows_loaded for f in run.files),
        sum(f.rows_unchanged for f in run.files), sum(f.rows_rejected for f in run.files),
        ", ".join(run.discovery.not_arrived) or "none",
    )
    return {
        "source": source,
        "business_day": day.isoformat(),
        "files": len(run.files),
        "rows_in": sum(f.rows_in for f in run.files),
        "rows_loaded": sum(f.rows_loaded for f in run.files),
        "rows_unchanged": sum(f.rows_unchanged for f in run.files),
        "rows_rejected": sum(f.rows_rejected for f in run.files),
        "not_arrived": run.discovery.not_arrived,
        "ignored": run.discovery.ignored,
        "unbalanced": [f.key for f in run.files if not f.balanced],
    }


def publish_day(day: date, settings: Settings | None = None) -> dict:
    """Render the day's rejections files and quality files from the ledger."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from claims.ingest.publish import publish_feedback, publish_quality
    from claims.ledger.models import LandingDelivery, LandingFile

    settings = settings or load_settings()
    upgrade(settings.database_url)
    engine = engine_for(settings.database_url)
    outbox = open_store(settings.outbox_url)
    feedback = publish_feedback(engine, outbox, day, load_reference())
    with Session(engine) as session:
        validations = [
            {"file": key, **json.loads(text or "{}")}
            for key, text in session.execute(
                select(LandingDelivery.file_key, LandingFile.validation)
                .join(LandingFile, LandingFile.id == LandingDelivery.file_id)
                .where(LandingDelivery.business_day == day, LandingDelivery.outcome == "read",
                       LandingFile.validation.is_not(None))
                .order_by(LandingDelivery.file_key)
            )
        ]
    files = publish_quality(engine, outbox, day, validations)
    log.info("%s: published %d rejections file(s) (%d line(s)) and %d quality file(s)",
             day, len(feedback), sum(feedback.values()), len(files))
    return {"feedback_files": len(feedback), "rejection_lines": sum(feedback.values()), "quality_files": len(files)}


def pending_partitions(source: str, day_text: str, settings: Settings | None = None) -> list[str]:
    """The partitions of the day (one per platform) whose _SUCCESS marker is missing."""
    from claims.calendar import parse_business_day
    from claims.ingest.discovery import discover

    settings = settings or load_settings()
    found = discover(
        open_store(settings.landing_url), source, parse_business_day(day_text),
        sorted(load_reference().platforms), 0,
    )  # feeds without a platform level expect the one partition {source}/date=D/
    return found.not_arrived
