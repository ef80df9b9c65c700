"""What adjudication publishes for a business day, rendered from the ledger (a
re-run renders the same bytes):

- ``decisions/date=D/decisions.csv``: every claim decided or re-decided by the run;
- ``decisions/date=D/determinations.csv``: what became of each determination the
  run read (applied, or why not);
- ``reports/date=D/deadlines.csv``: claims awaiting confirmation past or near their
  deadline, for administrators (no personal data).
"""

from __future__ import annotations

import bisect
from datetime import date

from sqlalchemy import Date, Engine, bindparam, select, text
from sqlalchemy.orm import Session

from claims.adjudication.pipeline import (
    PUBLISHED_COLUMNS,
    PublishedDecisions,
    open_deadlines,
    published_decisions,
)
from claims.calendar import local_time
from claims.csvtext import csv_lines, dict_csv_bytes
from claims.ledger.bulk import fetch_tuples
from claims.ledger.models import Determination, DeterminationResult
from claims.store import Store
from claims.workdays import WorkCalendar

DECISION_COLUMNS = list(PUBLISHED_COLUMNS)
DETERMINATION_COLUMNS = ["claim_id", "platform_code", "decision", "decided_at", "result_code"]
DEADLINE_COLUMNS = ["claim_id", "platform_code", "outcome", "filed_on", "confirm_by", "status", "calendar_estimated"]


def publish_decisions(engine: Engine, outbox: Store, day: date, calendar: WorkCalendar,
                      warning_working_days: int, rules_published: PublishedDecisions | None = None
                      ) -> dict[str, int]:
    """``rules_published``: the day's decisions by the rules, in platform and claim
    order, when the caller has them all (``DayAdjudication.rules_published``): then
    only the decisions by determination (a few) are read from the ledger. Either
    way the rows are in code-point order of platform and claim, rules first."""
    with Session(engine) as session:
        postgres = session.connection().dialect.name == "postgresql"
        collate = ' COLLATE "C"' if postgres else ""  # (SQLite compares code points)
        if rules_published is None:
            _names, rows = fetch_tuples(  # the driver's values: decided_at is formatted once per distinct value
                session, text(f"SELECT {', '.join(DECISION_COLUMNS)} "
                              f"FROM decision WHERE business_day = :day "
                              f"ORDER BY platform_code{collate}, claim_id{collate}, basis DESC, id")
                .bindparams(bindparam("day", type_=Date)), {"day": day})
            decisions = published_decisions(rows)
        else:
            _names, determined = fetch_tuples(session, text(
                f"SELECT {', '.join('d.' + name for name in DECISION_COLUMNS)} "
                "FROM determination_result r JOIN decision d ON d.id = r.decision_id WHERE r.business_day = :day"
            ).bindparams(bindparam("day", type_=Date)), {"day": day})
            decisions = _merged(rules_published, published_decisions(determined))
        results = session.execute(
            select(Determination, DeterminationResult)
            .join(DeterminationResult, DeterminationResult.determination_id == Determination.id)
            .where(DeterminationResult.business_day == day)
            .order_by(Determination.platform_code.collate("C") if postgres else Determination.platform_code,
                      Determination.claim_id.collate("C") if postgres else Determination.claim_id, Determination.id)
        ).all()
        deadlines = open_deadlines(session, day, calendar, warning_working_days)
    prefix = f"date={day.isoformat()}"
    header = csv_lines([DECISION_COLUMNS])
    outbox.write_bytes(f"decisions/{prefix}/decisions.csv", ("\n".join(header + decisions.lines) + "\n").encode())
    outbox.write_bytes(f"decisions/{prefix}/determinations.csv", dict_csv_bytes(DETERMINATION_COLUMNS, [
        {"claim_id": det.claim_id, "platform_code": det.platform_code, "decision": det.decision,
         "decided_at": local_time(det.decided_at), "result_code": res.reason_code}
        for det, res in results
    ]))
    outbox.write_bytes(f"reports/{prefix}/deadlines.csv", dict_csv_bytes(DEADLINE_COLUMNS, deadlines))
    return {"decisions": len(decisions.lines), "determinations": len(results), "deadlines": len(deadlines)}


def _merged(rules: PublishedDecisions, determined: PublishedDecisions) -> PublishedDecisions:
    """Decisions by the rules (in platform and claim order) with the few by
    determination put in place: after the rules' decision of the same claim."""
    if not determined.lines:
        return rules
    keys, lines = list(rules.keys), list(rules.lines)
    for key, line in sorted(zip(determined.keys, determined.lines, strict=True), reverse=True):
        at = bisect.bisect_right(keys, key)
        keys.insert(at, key)
        lines.insert(at, line)
    return PublishedDecisions(keys, lines)
