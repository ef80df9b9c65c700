"""The migrations build the schema the models describe: no table, column, index or
constraint of one is missing from the other, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from claims.ledger.db import engine_for
from claims.ledger.models import Base


def test_the_migrated_schema_is_the_models_schema(ledger_url: str) -> None:
    with engine_for(ledger_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_the_work_list_migration_lists_every_claim_with_a_payable_decision(ledger_url: str) -> None:
    """0009 lists each claim that ever had a payable decision once (the first payout
    run then removes those already settled): a ledger upgraded mid-life loses no
    claim that is still owed."""
    from datetime import UTC, date, datetime

    from alembic import command
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from claims.ledger.db import alembic_config, upgrade
    from claims.ledger.models import Decision, PayoutWork
    from tests.test_bulk import _version

    config = alembic_config(ledger_url)
    with engine_for(ledger_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    with Session(engine_for(ledger_url)) as session, session.begin():
        version_id = _version(session)
        base = {"claim_version_id": version_id, "basis": "rules", "reason_codes": "", "rule_set": "beijing",
                "rule_version": "bj-1", "filed_on": date(2025, 9, 1), "confirm_by": None, "pay_by": None,
                "calendar_estimated": False, "evaluation": "{}", "decided_at": datetime(2025, 9, 1, tzinfo=UTC)}
        session.execute(insert(Decision), [
            dict(base, platform_code="didi", claim_id="C1", business_day=date(2025, 9, 2), outcome="fast_track",
                 payable_fen=100),
            dict(base, platform_code="didi", claim_id="C1", business_day=date(2025, 9, 3), outcome="fast_track",
                 payable_fen=200),
            dict(base, platform_code="didi", claim_id="C2", business_day=date(2025, 9, 2), outcome="standard_review",
                 payable_fen=None),
        ])
    upgrade(ledger_url)
    with Session(engine_for(ledger_url)) as session:
        rows = session.execute(select(PayoutWork.platform_code, PayoutWork.claim_id, PayoutWork.business_day,
                                      PayoutWork.reason)).all()
    assert [tuple(row) for row in rows] == [("didi", "C1", date(2025, 9, 2), "migrated")]
