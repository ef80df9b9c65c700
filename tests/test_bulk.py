"""Bulk writes and reads must store and return exactly what the ORM would: on
SQLite (text dates), PostgreSQL through psycopg2 and through psycopg 3 (COPY)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from claims.adjudication.pipeline import note_ids
from claims.ledger.bulk import insert_columns, insert_rows, read_frame
from claims.ledger.db import engine_for
from claims.ledger.models import ClaimOrder, ClaimVersion, Decision, LandingFile

COLUMNS = ["platform_code", "claim_id", "claim_version_id", "business_day", "basis", "outcome", "reason_codes",
           "rule_set", "rule_version", "payable_fen", "filed_on", "confirm_by", "pay_by", "calendar_estimated",
           "note_id", "decided_at"]
AWKWARD = 'tab\there, "quoted", back\\slash, new\nline, 中文'


@pytest.fixture
def psycopg3_url(postgres_server: str) -> str:
    """The test database through psycopg 3 (COPY there is another code path)."""
    from claims.ledger.db import upgrade
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_server)
    url = postgres_server.replace("postgresql+psycopg2://", "postgresql+psycopg://")
    assert url.startswith("postgresql+psycopg://")
    upgrade(url)
    return url


def _version(session: Session) -> int:
    from sqlalchemy import MetaData, Table, insert

    # Through the table as the ledger has it: the migration tests call this on older revisions.
    landing_file = Table(LandingFile.__tablename__, MetaData(), autoload_with=session.connection())
    session.execute(insert(landing_file).values(
        id=1, sha256="0" * 64, source="claims", platform_code="didi", partition_date=date(2025, 9, 1),
        file_key="k", file_format="csv", encoding="utf-8", size_bytes=1,
        business_day=date(2025, 9, 1), status="loaded", reject_code=None, rows_in=1, rows_loaded=1,
        rows_unchanged=0, rows_rejected=0, premium_mismatches=0, extra_columns="",
        lake_key=None, validation=None, loaded_at=datetime.now(UTC)))
    version = ClaimVersion(
        platform_code="didi", claim_id="C1", partition_date=date(2025, 9, 1), file_name="claims.csv", line=2, file_id=1,
        business_day=date(2025, 9, 1), content_hash="0" * 64, order_id="O1", worker_ref="w", pseudonym_key_id="dev",
        worker_name_enc="x", payee_account_enc="x", payee_account_masked="****", encryption_key_id="dev",
        payee_bank_code="102100099996", incident_at=datetime(2025, 9, 1, tzinfo=UTC),
        reported_at=datetime(2025, 9, 1, tzinfo=UTC), incident_province_code="110000", incident_city_code="110100",
        injury_type="sprain", treatment="outpatient", inpatient_days=0, medical_cost_fen=1, disability_assessment=False,
        liability_disputed=False, documents="")
    session.add(version)
    session.flush()
    return version.id


def test_inserted_rows_read_back_through_the_orm_unchanged(ledger_url: str) -> None:
    inserted_rows_read_back_unchanged(ledger_url)


def test_inserted_rows_read_back_unchanged_through_psycopg3(psycopg3_url: str) -> None:
    inserted_rows_read_back_unchanged(psycopg3_url)


def inserted_rows_read_back_unchanged(url: str) -> None:
    engine = engine_for(url)
    decided_at = datetime(2025, 9, 1, 23, 59, 59, 999999, tzinfo=UTC)
    with Session(engine) as session, session.begin():
        version_id = _version(session)
        notes = note_ids(session, ["{}", "{\"a\": null}"])
        rows = [
            ("didi", "C1", version_id, date(2025, 9, 1), "rules", "fast_track", AWKWARD, "beijing", "bj-1", 12345,
             date(2025, 8, 31), date(2025, 9, 10), None, True, notes["{}"], decided_at),
            ("didi", "C2", version_id, date(2025, 9, 1), "rules", "pending", "", "beijing", "bj-1", None,
             date(2025, 8, 31), None, None, False, notes["{\"a\": null}"],
             datetime(2025, 9, 2, 7, 0, tzinfo=timezone(timedelta(hours=8)))),
        ]
        assert insert_rows(session, Decision.__table__, COLUMNS, rows) == 2
    with Session(engine) as session:
        stored = session.execute(select(Decision).order_by(Decision.claim_id)).scalars().all()
        assert [d.claim_id for d in stored] == ["C1", "C2"]
        first, second = stored
        assert first.reason_codes == AWKWARD and second.reason_codes == ""
        assert first.note.body == "{}" and second.note.body == "{\"a\": null}"
        assert first.payable_fen == 12345 and second.payable_fen is None
        assert first.calendar_estimated is True and second.calendar_estimated is False
        assert first.confirm_by == date(2025, 9, 10) and second.confirm_by is None
        assert first.business_day == date(2025, 9, 1) and first.filed_on == date(2025, 8, 31)
        for stored_at, expected in ((first.decided_at, decided_at), (second.decided_at, datetime(2025, 9, 1, 23, 0))):
            aware = stored_at if stored_at.tzinfo else stored_at.replace(tzinfo=UTC)
            assert aware == expected.replace(tzinfo=expected.tzinfo or UTC)
        # the same rows through read_frame
        frame = read_frame(session, text("SELECT claim_id, business_day, confirm_by, calendar_estimated, decided_at "
                                         "FROM decision ORDER BY claim_id"),
                           dates=["business_day", "confirm_by"], datetimes=["decided_at"], bools=["calendar_estimated"])
        assert frame["business_day"].tolist() == [date(2025, 9, 1)] * 2
        assert frame["confirm_by"].tolist() == [date(2025, 9, 10), None]
        assert frame["calendar_estimated"].tolist() == [True, False]
        assert frame["decided_at"].tolist() == [decided_at, datetime(2025, 9, 1, 23, 0, tzinfo=UTC)]


def test_nothing_to_insert_is_a_no_op(ledger_url: str) -> None:
    with Session(engine_for(ledger_url)) as session, session.begin():
        assert insert_rows(session, Decision.__table__, COLUMNS, []) == 0
        frame = read_frame(session, text("SELECT claim_id, business_day FROM decision"), dates=["business_day"])
        assert frame.empty and list(frame.columns) == ["claim_id", "business_day"]


def test_datetimes_given_as_arrow_text_are_stored_as_the_instants(ledger_url: str) -> None:
    """``datetime_texts`` (Arrow timestamps, with a zone or naive UTC, to the text
    insert_columns takes) stores the same instants as the ORM would, nulls included."""
    import pyarrow as pa

    from claims.ledger.bulk import datetime_texts

    instants = [datetime(2025, 9, 1, 15, 59, 59, 999999, tzinfo=UTC), None,
                datetime(2025, 12, 31, 16, 0, tzinfo=UTC)]
    accepted = datetime(2025, 9, 1, tzinfo=UTC)
    engine = engine_for(ledger_url)
    with Session(engine) as session, session.begin():
        _version(session)  # (and its landing file, id 1)
        zoned = pa.array(instants, pa.timestamp("us", "UTC")).cast(pa.timestamp("us", "Asia/Shanghai"))
        naive = pa.array([None if at is None else at.replace(tzinfo=None) for at in instants], pa.timestamp("ns"))
        for prefix, stamps in (("Z", zoned), ("N", naive)):
            texts = datetime_texts(session, stamps)
            assert texts[1] is None
            count = len(texts)
            insert_columns(session, ClaimOrder.__table__, {
                "platform_code": ["didi"] * count, "order_id": [f"{prefix}{n}" for n in range(count)],
                "worker_ref": ["w"] * count, "province_code": ["110000"] * count, "city_code": ["110100"] * count,
                "industry": ["ride_hailing"] * count, "accepted_at": [accepted] * count, "completed_at": texts,
                "status": ["completed"] * count, "file_id": [1] * count})
    with Session(engine) as session:
        for prefix in ("Z", "N"):
            stored = session.execute(select(ClaimOrder.completed_at).where(ClaimOrder.order_id.startswith(prefix))
                                     .order_by(ClaimOrder.order_id)).scalars().all()
            assert [None if at is None else at if at.tzinfo else at.replace(tzinfo=UTC) for at in stored] == instants
