"""The claims' states and the cells kept from them (claims.reports.claim_state):
a later decision about an earlier day's claim changes that day's cells for later
reports only, and the cells kept for a key day are never served once its states
changed. The ledger is written in bulk by bench/reports.py's builder."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from reports import START, build  # noqa: E402

from claims.ledger.db import engine_for  # noqa: E402
from claims.ledger.models import Decision  # noqa: E402
from claims.reports.claim_state import cells_as_of, derived_again_differs, load_cells  # noqa: E402
from claims.reports.trends import past_months  # noqa: E402

FIRST, SECOND, THIRD = START, START + timedelta(days=1), START + timedelta(days=2)
OCTOBER = date(2024, 10, 2)


def _outcomes(cells, day):  # type: ignore[no-untyped-def]
    found: dict[str | None, int] = {}
    for _province, _platform, outcome, _late, claims, _who in cells.filed.get(day, []):
        found[outcome] = found.get(outcome, 0) + claims
    return found


def test_a_later_decision_changes_the_kept_cells_of_its_filing_day_for_later_reports_only(tmp_path: Path) -> None:
    """(And the past month of the trends kept as it stood at its end is kept again:
    the decision is stamped with a day of that month, a re-run of it.)"""
    url = f"sqlite:///{tmp_path / 'claims.db'}"
    build(url, 0, 3, 20, 187_000)  # three days of 20 fast-tracked, paid claims
    engine = engine_for(url)
    as_second = cells_as_of(engine, SECOND, FIRST)  # kept for the first and second days
    assert past_months(engine, None, OCTOBER)["2024-09"]["*"]["fast_track"] == 60  # September, kept
    assert _outcomes(as_second, FIRST) == {"fast_track": 20}
    with Session(engine) as session, session.begin():  # the third day rejects a claim of the first
        decided = session.execute(select(Decision).where(Decision.claim_id == "C1")).scalar_one()
        session.execute(insert(Decision).values(
            platform_code=decided.platform_code, claim_id="C1", claim_version_id=decided.claim_version_id,
            business_day=THIRD, basis="determination", outcome="rejected", reason_codes="", rule_set="national",
            rule_version="1", payable_fen=None, filed_on=FIRST, confirm_by=None, pay_by=None,
            calendar_estimated=False, note_id=1, decided_at=datetime(2024, 1, 2, tzinfo=UTC)))
    as_third = cells_as_of(engine, THIRD, FIRST)
    assert past_months(engine, None, OCTOBER)["2024-09"]["*"]["fast_track"] == 59  # the kept month again
    assert _outcomes(as_third, FIRST) == {"fast_track": 19, "rejected": 1}
    with engine.connect() as connection:
        fresh = load_cells(connection, THIRD, FIRST, cache=False)
    assert {day: sorted(rows, key=repr) for day, rows in as_third.filed.items()} == \
        {day: sorted(rows, key=repr) for day, rows in fresh.filed.items()}
    # the second day rendered again: as it was (the rejection is the third day's)
    again = cells_as_of(engine, SECOND, FIRST)
    assert _outcomes(again, FIRST) == {"fast_track": 20}
    assert again == as_second
    assert derived_again_differs(engine) == []
