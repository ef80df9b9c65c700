"""Adjudicate a business day: decide every claim whose current version has no
decision yet, look again at pending ones, apply the HRSS determinations, and keep
every decision with its reasons, rule-set version, rule inputs and deadlines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select
from sqlalchemy.orm import Session

from claims.adjudication.orders import _aware, link_claim_orders
from claims.adjudication.rules import (
    ClaimFacts,
    Evaluation,
    OrderFacts,
    Policy,
    RuleBook,
    evaluate,
    find_duplicates,
)
from claims.ledger.models import ClaimOrder, ClaimVersion, Decision, Determination, DeterminationResult
from claims.store import Store
from claims.workdays import WorkCalendar

RULES = "rules"
DETERMINATION = "determination"


@dataclass
class DayAdjudication:
    day: date
    orders_linked: int = 0
    decided: dict[str, int] = field(default_factory=dict)
    determinations: dict[str, int] = field(default_factory=dict)
    calendar_estimated: int = 0


def current_versions(session: Session, day: date, keys: Iterable[tuple[str, str]] | None = None) -> dict[tuple[str, str], Any]:
    """The current version of every claim (or of ``keys``) as the runs up to ``day``
    loaded them: the last in (partition date, file name, line). Plain rows (with
    the columns as attributes), not ORM objects: there may be many."""
    ranked = (
        select(
            ClaimVersion.id,
            func.row_number().over(
                partition_by=(ClaimVersion.platform_code, ClaimVersion.claim_id),
                order_by=(ClaimVersion.partition_date.desc(), ClaimVersion.file_name.desc(), ClaimVersion.line.desc()),
            ).label("rank"),
        )
        .where(ClaimVersion.business_day <= day)
        .subquery()
    )
    table = ClaimVersion.metadata.tables["claim_version"]
    query = select(table).join(ranked, and_(ranked.c.id == table.c.id, ranked.c.rank == 1))
    rows = session.execute(query).all()
    versions = {(row.platform_code, row.claim_id): row for row in rows}
    if keys is not None:
        wanted = set(keys)
        return {key: version for key, version in versions.items() if key in wanted}
    return versions


def first_filings(session: Session, day: date) -> dict[tuple[str, str], date]:
    rows = session.execute(
        select(ClaimVersion.platform_code, ClaimVersion.claim_id, func.min(ClaimVersion.partition_date))
        .where(ClaimVersion.business_day <= day)
        .group_by(ClaimVersion.platform_code, ClaimVersion.claim_id)
    ).all()
    return {(platform, claim): first for platform, claim, first in rows}


def latest_decisions(session: Session, day: date, basis: str = RULES) -> dict[tuple[str, str], Any]:
    ranked = (
        select(
            Decision.id,
            func.row_number().over(
                partition_by=(Decision.platform_code, Decision.claim_id),
                order_by=(Decision.business_day.desc(), Decision.id.desc()),
            ).label("rank"),
        )
        .where(Decision.business_day <= day, Decision.basis == basis)
        .subquery()
    )
    table = Decision.metadata.tables["decision"]
    rows = session.execute(select(table).join(ranked, and_(ranked.c.id == table.c.id, ranked.c.rank == 1))).all()
    return {(row.platform_code, row.claim_id): row for row in rows}


def claim_facts(version: ClaimVersion, first_filed_on: date) -> ClaimFacts:
    return ClaimFacts(
        platform_code=version.platform_code, claim_id=version.claim_id, order_id=version.order_id,
        worker_ref=version.worker_ref, incident_at=_aware(version.incident_at), reported_at=_aware(version.reported_at),
        filed_on=version.partition_date, first_filed_on=first_filed_on,
        position=(version.partition_date, version.file_name, version.line),
        incident_province_code=version.incident_province_code, incident_city_code=version.incident_city_code,
        injury_type=version.injury_type, treatment=version.treatment, inpatient_days=version.inpatient_days,
        medical_cost_fen=version.medical_cost_fen, disability_assessment=version.disability_assessment,
        liability_disputed=version.liability_disputed,
        documents=tuple(name for name in version.documents.split(";") if name),
    )


def order_facts(order: ClaimOrder) -> OrderFacts:
    return OrderFacts(
        platform_code=order.platform_code, order_id=order.order_id, worker_ref=order.worker_ref,
        province_code=order.province_code, city_code=order.city_code, industry=order.industry,
        accepted_at=_aware(order.accepted_at),
        completed_at=_aware(order.completed_at) if order.completed_at is not None else None, status=order.status,
    )


class Adjudicator:
    def __init__(self, engine: Engine, lake: Store, book: RuleBook, calendar: WorkCalendar, policy: Policy) -> None:
        self.engine = engine
        self.lake = lake
        self.book = book
        self.calendar = calendar
        self.policy = policy

    def run(self, day: date) -> DayAdjudication:
        result = DayAdjudication(day)
        with Session(self.engine) as session, session.begin():
            result.orders_linked = link_claim_orders(session, self.lake, day, self.policy.coverage_grace)
        with Session(self.engine) as session, session.begin():
            self._decide_by_rules(session, day, result)
        with Session(self.engine) as session, session.begin():
            self._apply_determinations(session, day, result)
        return result

    # -- the rules ---------------------------------------------------------------------------
    def _decide_by_rules(self, session: Session, day: date, result: DayAdjudication) -> None:
        versions = current_versions(session, day)
        firsts = first_filings(session, day)
        latest = latest_decisions(session, day)
        to_decide = []
        for key, version in sorted(versions.items()):
            previous = latest.get(key)
            if previous is not None and previous.business_day == day:
                continue  # the run of this day decided it already: a re-run changes nothing
            if previous is None or previous.claim_version_id != version.id or previous.outcome == "pending":
                to_decide.append(key)
        if not to_decide:
            return
        order_keys = {(versions[key].platform_code, versions[key].order_id) for key in to_decide}
        orders = self._orders(session, order_keys)
        facts = {
            key: claim_facts(version, firsts[key]) for key, version in versions.items()
            if (version.platform_code, version.order_id) in order_keys
        }
        duplicates = find_duplicates(facts.values())
        decided_at = datetime.now(UTC)
        rows = []
        for key in to_decide:
            version = versions[key]
            claim = facts[key]
            evaluation = evaluate(claim, orders.get((version.platform_code, version.order_id)), self.book, day,
                                  self.policy, duplicates.get(key))
            rows.append(self._decision_row(version, claim, evaluation, day, decided_at))
            result.decided[evaluation.outcome] = result.decided.get(evaluation.outcome, 0) + 1
            result.calendar_estimated += int(rows[-1]["calendar_estimated"])
        session.execute(insert(Decision.metadata.tables["decision"]), rows)  # core: no ORM overhead per row

    def _orders(self, session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], OrderFacts]:
        found = {}
        order_ids = sorted({order_id for _platform, order_id in keys})
        table = ClaimOrder.__table__
        for start in range(0, len(order_ids), 5000):
            chunk = order_ids[start: start + 5000]
            for order in session.execute(select(table).where(table.c.order_id.in_(chunk))):
                if (order.platform_code, order.order_id) in keys:
                    found[(order.platform_code, order.order_id)] = order_facts(order)  # type: ignore[arg-type]
        return found

    def _decision_row(self, version: ClaimVersion, claim: ClaimFacts, evaluation: Evaluation, day: date,
                      decided_at: datetime) -> dict:
        rule_set = evaluation.rule_set
        confirm_by = pay_by = None
        estimated = False
        if rule_set is not None and evaluation.outcome in ("fast_track", "standard_review", "pending"):
            fast = evaluation.outcome == "fast_track"
            confirm = self.calendar.add_working_days(claim.first_filed_on, rule_set.confirm_working_days(fast))
            confirm_by, estimated = confirm.date, confirm.estimated
            pay_days = rule_set.pay_working_days_fast_track if fast else None
            if pay_days is not None:
                pay = self.calendar.add_working_days(claim.first_filed_on, pay_days)
                pay_by, estimated = pay.date, estimated or pay.estimated
        explanation = evaluation.as_dict()
        explanation["deadlines"] = {
            "confirm_by": confirm_by.isoformat() if confirm_by else None,
            "pay_by": pay_by.isoformat() if pay_by else None,
            "calendar_estimated": estimated,
        }
        reasons = list(evaluation.reasons) + (["CALENDAR_ESTIMATED"] if estimated else [])
        return {
            "platform_code": version.platform_code, "claim_id": version.claim_id, "claim_version_id": version.id,
            "business_day": day, "basis": RULES, "outcome": evaluation.outcome, "reason_codes": ";".join(reasons),
            "rule_set": rule_set.rule_set if rule_set else "", "rule_version": evaluation.rule_version or "",
            "payable_fen": evaluation.amount_fen, "filed_on": claim.first_filed_on, "confirm_by": confirm_by,
            "pay_by": pay_by, "calendar_estimated": estimated,
            "evaluation": json.dumps(explanation, ensure_ascii=False, sort_keys=True), "decided_at": decided_at,
        }

    # -- standard review ------------------------------------------------------------------------
    def _apply_determinations(self, session: Session, day: date, result: DayAdjudication) -> None:
        """Determinations loaded by the run of ``day``: applied to a claim under
        standard review (approved: payable with the approved amount; rejected), or
        recorded as not applicable with a reason code."""
        pending = session.execute(
            select(Determination)
            .outerjoin(DeterminationResult, DeterminationResult.determination_id == Determination.id)
            .where(Determination.business_day == day, DeterminationResult.determination_id.is_(None))
            .order_by(Determination.platform_code, Determination.claim_id, Determination.decided_at.desc(),
                      Determination.id)
        ).scalars().all()
        if not pending:
            return
        versions = current_versions(session, day)
        latest = latest_decisions(session, day)
        applied_today = {key for key, d in latest_decisions(session, day, DETERMINATION).items() if d.business_day == day}
        decided_at = datetime.now(UTC)
        for determination in pending:
            key = (determination.platform_code, determination.claim_id)
            code, decision_id = self._determination_outcome(session, determination, key, versions, latest,
                                                            applied_today, day, decided_at)
            session.execute(insert(DeterminationResult), [{
                "determination_id": determination.id, "business_day": day, "reason_code": code,
                "decision_id": decision_id,
            }])
            result.determinations[code] = result.determinations.get(code, 0) + 1

    def _determination_outcome(self, session, determination, key, versions, latest, applied_today, day,  # type: ignore[no-untyped-def]
                               decided_at) -> tuple[str, int | None]:
        if key not in versions:
            return "DETERMINATION_UNKNOWN_CLAIM", None
        if key in applied_today:
            return "DETERMINATION_SUPERSEDED", None  # a later determination of the same day was applied
        review = latest.get(key)
        if review is None or review.outcome != "standard_review":
            return "DETERMINATION_NOT_UNDER_REVIEW", None
        approved = determination.decision == "approved"
        code = "APPROVED_BY_DETERMINATION" if approved else "REJECTED_BY_DETERMINATION"
        explanation = {
            "outcome": "standard_review" if approved else "rejected", "reasons": [code],
            "determination": {"decision": determination.decision, "approved_amount_fen": determination.approved_amount_fen,
                              "reason": determination.reason, "decided_at": _aware(determination.decided_at).isoformat(),
                              "decided_by": determination.decided_by},
            "review_decision_business_day": review.business_day.isoformat(),
        }
        row = {
            "platform_code": key[0], "claim_id": key[1], "claim_version_id": versions[key].id, "business_day": day,
            "basis": DETERMINATION, "outcome": "standard_review" if approved else "rejected", "reason_codes": code,
            "rule_set": "hrss-determination", "rule_version": review.rule_version,
            "payable_fen": determination.approved_amount_fen if approved else None, "filed_on": review.filed_on,
            "confirm_by": review.confirm_by, "pay_by": None, "calendar_estimated": review.calendar_estimated,
            "evaluation": json.dumps(explanation, ensure_ascii=False, sort_keys=True), "decided_at": decided_at,
        }
        decision_id = session.execute(insert(Decision).returning(Decision.id), [row]).scalar_one()
        applied_today.add(key)
        return code, decision_id


def open_deadlines(session: Session, day: date, calendar: WorkCalendar, warning_working_days: int) -> list[dict]:
    """Claims awaiting confirmation whose deadline has passed or falls within the
    warning window: for administrators."""
    horizon = calendar.add_working_days(day, warning_working_days).date
    settled = latest_decisions(session, day, DETERMINATION)
    rows = []
    for key, decision in sorted(latest_decisions(session, day).items()):
        if decision.outcome not in ("standard_review", "pending") or decision.confirm_by is None or key in settled:
            continue
        if decision.confirm_by <= horizon:
            rows.append({
                "claim_id": key[1], "platform_code": key[0], "outcome": decision.outcome,
                "filed_on": decision.filed_on.isoformat(), "confirm_by": decision.confirm_by.isoformat(),
                "status": "overdue" if decision.confirm_by < day else "due_soon",
                "calendar_estimated": str(decision.calendar_estimated).lower(),
            })
    return rows


def latest_decisions_for(session: Session, key: tuple[str, str], day: date, basis: str) -> Decision | None:
    return session.execute(
        select(Decision).where(
            Decision.platform_code == key[0], Decision.claim_id == key[1], Decision.basis == basis,
            Decision.business_day <= day,
        ).order_by(Decision.business_day.desc(), Decision.id.desc()).limit(1)
    ).scalar_one_or_none()


