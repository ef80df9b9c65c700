"""What a business day's ingestion publishes: the platforms' rejections files and
the administrators' quality files. Both are rendered from the ledger, so a re-run
renders the same bytes."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from claims.csvtext import csv_bytes, json_bytes
from claims.ledger.models import LandingDelivery, LandingFile, LandingSkip, Rejection
from claims.reference import Reference
from claims.store import Store

#: Feeds without a platform level whose rejections go to feedback/source={feed}/.
FEEDS = ("determinations", "declarations", "bank_returns")
REJECTION_COLUMNS = ["source_file", "line", "record_id", "field", "reason_code", "message"]


def rejections_csv(rows: list[Rejection]) -> bytes:
    return csv_bytes(REJECTION_COLUMNS, [
        [row.source_file, row.line, row.record_id, row.field, row.reason_code, row.message] for row in rows
    ])


def publish_feedback(engine: Engine, outbox: Store, day: date, reference: Reference) -> dict[str, int]:
    """Write ``feedback/{platform=code|source=feed}/date=D/rejections.csv`` for every
    registered platform (header only when none) and every other feed with lines."""
    with Session(engine) as session:
        rows = session.execute(
            select(Rejection)
            .join(LandingDelivery, LandingDelivery.id == Rejection.delivery_id)
            .where(Rejection.business_day == day)
            .order_by(Rejection.feedback_key, Rejection.source_file, Rejection.delivery_id, Rejection.seq)
        ).scalars().all()
    grouped: dict[str, list[Rejection]] = {f"platform={code}": [] for code in reference.platforms}
    grouped.update({f"source={feed}": [] for feed in FEEDS})
    for row in rows:
        grouped.setdefault(row.feedback_key, []).append(row)
    written = {}
    for feedback_key, lines in sorted(grouped.items()):
        outbox.write_bytes(f"feedback/{feedback_key}/date={day.isoformat()}/rejections.csv", rejections_csv(lines))
        written[feedback_key] = len(lines)
    return written


def file_quality(engine: Engine, day: date) -> list[dict[str, object]]:
    """Per-file counts of every file the run of ``day`` read, and the objects of
    complete partitions it did not read (status ``skipped``, with the reason): no
    personal data."""
    with Session(engine) as session:
        deliveries = session.execute(
            select(LandingDelivery, LandingFile)
            .join(LandingFile, LandingFile.id == LandingDelivery.file_id)
            .where(LandingDelivery.business_day == day)
            .order_by(LandingDelivery.file_key)
        ).all()
        reasons_by_delivery: dict[int, Counter] = {}
        for delivery_id, code in session.execute(
            select(Rejection.delivery_id, Rejection.reason_code).where(Rejection.business_day == day)
        ):
            reasons_by_delivery.setdefault(delivery_id, Counter())[code] += 1
        skips = session.execute(
            select(LandingSkip).where(LandingSkip.business_day == day).order_by(LandingSkip.file_key)
        ).scalars().all()
    report = []
    for delivery, landing_file in deliveries:
        duplicate = delivery.outcome == "duplicate_file"
        rows_in = landing_file.rows_in
        loaded = 0 if duplicate else landing_file.rows_loaded
        unchanged = 0 if duplicate else landing_file.rows_unchanged
        rejected = rows_in if duplicate else landing_file.rows_rejected
        entry: dict[str, object] = {
            "file": delivery.file_key,
            "source": landing_file.source,
            "platform_code": landing_file.platform_code,
            "partition_date": landing_file.partition_date.isoformat(),
            "sha256": delivery.sha256,
            "format": landing_file.file_format,
            "encoding": landing_file.encoding,
            "status": "duplicate_file" if duplicate else landing_file.status,
            "reject_code": "DUPLICATE_FILE" if duplicate else landing_file.reject_code,
            "rows_in": rows_in,
            "rows_loaded": loaded,
            "rows_unchanged": unchanged,
            "rows_rejected": rejected,
            "premium_mismatches": 0 if duplicate else landing_file.premium_mismatches,
            "extra_columns": [c for c in landing_file.extra_columns.split(",") if c] if not duplicate else [],
            "rejection_lines_by_reason": dict(sorted(reasons_by_delivery.get(delivery.id, Counter()).items())),
        }
        entry["balanced"] = rows_in == loaded + unchanged + rejected
        report.append(entry)
    for skipped in skips:
        report.append({
            "file": skipped.file_key, "source": skipped.source, "platform_code": skipped.platform_code,
            "partition_date": skipped.partition_date.isoformat(), "sha256": None, "format": "", "encoding": None,
            "status": "skipped", "reject_code": skipped.reason_code, "rows_in": 0, "rows_loaded": 0,
            "rows_unchanged": 0, "rows_rejected": 0, "premium_mismatches": 0, "extra_columns": [],
            "rejection_lines_by_reason": {}, "balanced": True,
        })
    return sorted(report, key=lambda entry: str(entry["file"]))


def publish_quality(
    engine: Engine, outbox: Store, day: date, validations: list[dict] | None = None
) -> list[dict[str, object]]:
    files = file_quality(engine, day)
    prefix = f"quality/date={day.isoformat()}"
    columns = ["file", "source", "platform_code", "partition_date", "status", "reject_code",
               "rows_in", "rows_loaded", "rows_unchanged", "rows_rejected", "premium_mismatches", "balanced"]
    outbox.write_bytes(f"{prefix}/files.csv", csv_bytes(columns, [[entry.get(c, "") for c in columns] for entry in files]))
    body = {"business_day": day.isoformat(), "files": files}
    outbox.write_bytes(f"{prefix}/files.json", json_bytes(body))
    if validations:
        outbox.write_bytes(
            f"{prefix}/validations.json", json_bytes(validations)
        )
        publish_data_docs(outbox, f"{prefix}/data_docs", validations)
    return files


def publish_data_docs(outbox: Store, prefix: str, validations: list[dict]) -> None:
    """Great Expectations Data Docs for administrators (counts only, no values)."""
    import tempfile
    from pathlib import Path

    from validations.runner import write_data_docs

    with tempfile.TemporaryDirectory(prefix="claims-docs-") as folder:
        site = Path(folder)
        write_data_docs(validations, site)
        for path in sorted(p for p in site.rglob("*") if p.is_file()):
            outbox.put_file(f"{prefix}/{path.relative_to(site).as_posix()}", path)
