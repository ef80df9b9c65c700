"""Payouts: the daily payout batches to workers' bank accounts and the files that
carry them to the paying agencies' banks (ISO 20022 pain.001.001.09, see
``claims.payouts.pain001``)."""

from __future__ import annotations

from datetime import date

from claims.settings import Settings, load_settings, setting


def pay_day(day: date, settings: Settings | None = None, *, auto_release: bool | None = None) -> dict:
    """Prepare, publish and (when the release rule allows) release a day's payouts."""
    from claims.ledger.db import engine_for, upgrade
    from claims.payouts.pipeline import Paymaster, paying_agencies
    from claims.privacy import Cipher
    from claims.store import open_store
    from claims.workdays import WorkCalendar

    settings = settings or load_settings()
    upgrade(settings.database_url)
    if auto_release is None:
        auto_release = settings.payouts_auto_release
    master = Paymaster(engine_for(settings.database_url), open_store(settings.outbox_url),
                       Cipher.from_ring(settings.encryption_keys), WorkCalendar.load(), paying_agencies(),
                       max_item_fen=settings.max_item_fen)
    result = master.run(day, auto_release=auto_release, operator=setting("CLAIMS_OPERATOR") or "claims")
    return {"business_day": day.isoformat(), "batches": result.batches, "items": result.items,
            "total_fen": result.total_fen, "released": result.released, "files_written": result.files_written,
            "files_verified": result.files_verified, "held": result.held}


def release_day(day: date, approved_by: str, settings: Settings | None = None) -> dict:
    """Four eyes: release prepared batches; the approver is not the preparer."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from claims.ledger.db import engine_for, upgrade
    from claims.ledger.models import PayoutBatch
    from claims.payouts.pipeline import Paymaster, paying_agencies
    from claims.privacy import Cipher
    from claims.store import open_store
    from claims.workdays import WorkCalendar

    settings = settings or load_settings()
    upgrade(settings.database_url)
    engine = engine_for(settings.database_url)
    preparer = setting("CLAIMS_OPERATOR") or "claims"
    if approved_by.strip() == preparer:
        raise PermissionError(f"{approved_by!r} prepared these payouts: another person must approve them")
    with Session(engine) as session:
        prepared = session.execute(select(PayoutBatch.id).where(PayoutBatch.business_day == day).limit(1)).first() is not None
    master = Paymaster(engine, open_store(settings.outbox_url), Cipher.from_ring(settings.encryption_keys),
                       WorkCalendar.load(), paying_agencies(), max_item_fen=settings.max_item_fen)
    master.release(day, released_by=approved_by, automatic=False, prepared_by=preparer)
    result = master.run(day, auto_release=False, operator=preparer)
    return {"business_day": day.isoformat(), "prepared": prepared, "released": result.released,
            "items": result.items, "total_fen": result.total_fen}
