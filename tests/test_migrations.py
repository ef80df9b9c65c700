"""The migrations build the schema the models describe: no table, column, index or
constraint of one is missing from the other, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import Session

from claims.ledger.db import engine_for
from claims.ledger.models import Base


def _table_as_migrated(session: Session, name: str) -> Table:
    """A table as the ledger's current revision has it (an older one's columns)."""
    return Table(name, MetaData(), autoload_with=session.connection())


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
    from claims.ledger.models import PayoutWork
    from tests.test_bulk import _version

    config = alembic_config(ledger_url)
    with engine_for(ledger_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    with Session(engine_for(ledger_url)) as session, session.begin():
        version_id = _version(session)
        decision = _table_as_migrated(session, "decision")
        base = {"claim_version_id": version_id, "basis": "rules", "reason_codes": "", "rule_set": "beijing",
                "rule_version": "bj-1", "filed_on": date(2025, 9, 1), "confirm_by": None, "pay_by": None,
                "calendar_estimated": False, "evaluation": "{}", "decided_at": datetime(2025, 9, 1, tzinfo=UTC)}
        session.execute(insert(decision), [
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


def test_the_awaiting_confirmation_migration_opens_and_closes_as_the_runs_would(ledger_url: str) -> None:
    """0011 makes a row of each decision by the rules awaiting confirmation (with a
    deadline), closed by the claim's next decision by the rules or a determination
    (that of the same day included): the deadlines report of a ledger upgraded
    mid-life lists what it listed before."""
    from datetime import UTC, date, datetime

    from alembic import command
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from claims.ledger.db import alembic_config, upgrade
    from claims.ledger.models import AwaitingConfirmation
    from tests.test_bulk import _version

    config = alembic_config(ledger_url)
    with engine_for(ledger_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0010")
    day = [date(2025, 9, max(n, 1)) for n in range(31)]  # day[n] is the nth of September
    with Session(engine_for(ledger_url)) as session, session.begin():
        version_id = _version(session)
        decision = _table_as_migrated(session, "decision")
        base = {"claim_version_id": version_id, "platform_code": "didi", "reason_codes": "", "rule_set": "hainan",
                "rule_version": "hn-1", "filed_on": day[1], "confirm_by": day[20], "pay_by": None,
                "calendar_estimated": False, "evaluation": "{}", "decided_at": datetime(2025, 9, 1, tzinfo=UTC),
                "payable_fen": None, "basis": "rules", "outcome": "standard_review", "business_day": day[2]}
        session.execute(insert(decision), [
            dict(base, claim_id="DETERMINED"),
            dict(base, claim_id="DETERMINED", basis="determination", business_day=day[5], payable_fen=100),
            dict(base, claim_id="SAME-DAY"),
            dict(base, claim_id="SAME-DAY", basis="determination", business_day=day[2], outcome="rejected"),
            dict(base, claim_id="PENDING-THEN-FAST", outcome="pending"),
            dict(base, claim_id="PENDING-THEN-FAST", outcome="fast_track", business_day=day[3], confirm_by=day[9],
                 payable_fen=100),
            dict(base, claim_id="PENDING-THEN-REVIEW", outcome="pending", calendar_estimated=True),
            dict(base, claim_id="PENDING-THEN-REVIEW", business_day=day[4], confirm_by=day[25]),
            dict(base, claim_id="OPEN"),
            dict(base, claim_id="NO-DEADLINE", confirm_by=None),
            dict(base, claim_id="FAST", outcome="fast_track", payable_fen=100),
        ])
    upgrade(ledger_url)
    with Session(engine_for(ledger_url)) as session:
        rows = session.execute(select(
            AwaitingConfirmation.claim_id, AwaitingConfirmation.outcome, AwaitingConfirmation.confirm_by,
            AwaitingConfirmation.calendar_estimated, AwaitingConfirmation.opened_on, AwaitingConfirmation.closed_on,
        ).order_by(AwaitingConfirmation.claim_id, AwaitingConfirmation.opened_on)).all()
    assert [tuple(row) for row in rows] == [
        ("DETERMINED", "standard_review", day[20], False, day[2], day[5]),
        ("OPEN", "standard_review", day[20], False, day[2], None),
        ("PENDING-THEN-FAST", "pending", day[20], False, day[2], day[3]),
        ("PENDING-THEN-REVIEW", "pending", day[20], True, day[2], day[4]),
        ("PENDING-THEN-REVIEW", "standard_review", day[25], False, day[4], None),
        ("SAME-DAY", "standard_review", day[20], False, day[2], day[2]),
    ]


def test_the_notes_migration_keeps_each_decisions_note_once_per_distinct_text(ledger_url: str) -> None:
    """0012 moves every decision's note into decision_note, one row per distinct
    text, and the decision refers to it: explain reads the same note as before."""
    import hashlib
    from datetime import UTC, date, datetime

    from alembic import command
    from sqlalchemy import insert, select

    from claims.ledger.db import alembic_config, upgrade
    from claims.ledger.models import Decision, DecisionNote
    from tests.test_bulk import _version

    config = alembic_config(ledger_url)
    with engine_for(ledger_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0011")
    shared, own = '{"pending_max_days": 7}', '{"determination": {"reason": "说明 \\"quoted\\""}}'
    with Session(engine_for(ledger_url)) as session, session.begin():
        version_id = _version(session)
        decision = _table_as_migrated(session, "decision")
        base = {"claim_version_id": version_id, "platform_code": "didi", "reason_codes": "", "rule_set": "hainan",
                "rule_version": "hn-1", "filed_on": date(2025, 9, 1), "confirm_by": None, "pay_by": None,
                "calendar_estimated": False, "decided_at": datetime(2025, 9, 1, tzinfo=UTC), "payable_fen": None,
                "basis": "rules", "outcome": "fast_track", "business_day": date(2025, 9, 1)}
        session.execute(insert(decision), [
            dict(base, claim_id="A", evaluation=shared), dict(base, claim_id="B", evaluation=shared),
            dict(base, claim_id="A", basis="determination", evaluation=own)])
    upgrade(ledger_url)
    with Session(engine_for(ledger_url)) as session:
        notes = {note.body: (note.id, note.sha256) for note in session.execute(select(DecisionNote)).scalars()}
        decisions = session.execute(select(Decision).order_by(Decision.claim_id, Decision.basis)).scalars().all()
        assert set(notes) == {shared, own}
        assert all(digest == hashlib.sha256(body.encode()).hexdigest() for body, (_, digest) in notes.items())
        assert [(d.claim_id, d.basis, d.note.body) for d in decisions] == [
            ("A", "determination", own), ("A", "rules", shared), ("B", "rules", shared)]
        assert decisions[1].note_id == decisions[2].note_id == notes[shared][0]
