"""Adjudicate a business day: decide every claim whose current version has no
decision yet, look again at pending ones, apply the HRSS determinations, and keep
every decision with its reasons, rule-set version, rule inputs and deadlines."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, func, insert, select
from sqlalchemy.orm import Session

from claims.adjudication.batch import decide
from claims.adjudication.orders import link_claim_orders
from claims.adjudication.rules import (
    ClaimFacts,
    OrderFacts,
    Policy,
    RuleBook,
    RuleSet,
    find_duplicates,
)
from claims.calendar import as_utc
from claims.ledger.models import ClaimOrder, ClaimVersion, Decision, Determination, DeterminationResult, PayoutItem
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


def _frame(session: Session, table: Any, column: str, keys: set[tuple[str, str]], day: date,
           columns: list[str] | None = None) -> pd.DataFrame:
    """Every version loaded by runs up to ``day`` of the claims whose
    (platform_code, ``column``) is in ``keys``, as a DataFrame (object columns:
    rows are read one by one later, which Arrow-backed strings make slow)."""
    selected = [table.c[name] for name in columns] if columns else list(table.columns)
    by_platform: dict[str, list[str]] = {}
    for platform, value in keys:
        by_platform.setdefault(platform, []).append(value)
    rows: list[Any] = []
    for platform, values in sorted(by_platform.items()):
        values = sorted(set(values))
        for start in range(0, len(values), 5000):
            rows.extend(session.execute(
                select(*selected).where(table.c.platform_code == platform,
                                        table.c[column].in_(values[start: start + 5000]), table.c.business_day <= day)
            ).all())
    return pd.DataFrame([tuple(row) for row in rows], columns=[c.name for c in selected], dtype=object)


def _current(versions: pd.DataFrame) -> pd.DataFrame:
    """The current version of each claim (last in partition date, file name, line),
    with the first version's filing date."""
    if versions.empty:
        return versions.assign(first_filed_on=pd.Series(dtype=object))
    ordered = versions.sort_values(["platform_code", "claim_id", "partition_date", "file_name", "line"])
    firsts = ordered.drop_duplicates(["platform_code", "claim_id"], keep="first")
    first_of = dict(zip(zip(firsts["platform_code"], firsts["claim_id"], strict=True), firsts["partition_date"], strict=True))
    current = ordered.drop_duplicates(["platform_code", "claim_id"], keep="last").reset_index(drop=True)
    keys = zip(current["platform_code"], current["claim_id"], strict=True)
    return current.assign(first_filed_on=[first_of[key] for key in keys])


def _latest_decisions(session: Session, table: Any, keys: set[tuple[str, str]], day: date) -> dict[tuple[str, str], Any]:
    by_platform: dict[str, list[str]] = {}
    for platform, claim in keys:
        by_platform.setdefault(platform, []).append(claim)
    latest: dict[tuple[str, str], Any] = {}
    for platform, claims in sorted(by_platform.items()):
        claims = sorted(claims)
        for start in range(0, len(claims), 5000):
            for row in session.execute(
                select(table).where(table.c.platform_code == platform, table.c.claim_id.in_(claims[start: start + 5000]),
                                    table.c.business_day <= day, table.c.basis == RULES)
                .order_by(table.c.business_day, table.c.id)
            ):
                latest[(row.platform_code, row.claim_id)] = row
    return latest


def _micros(values: pd.Series) -> pd.Series:
    """Datetimes (naive = UTC, as SQLite returns them) as UTC microseconds (float,
    exact below 2**53; NaN where there is none)."""
    stamps = pd.to_datetime(values, utc=True).dt.as_unit("us")
    missing = stamps.isna().to_numpy()
    raw = stamps.fillna(pd.Timestamp(0, tz="UTC")).astype("int64")
    return pd.Series(np.where(missing, np.nan, raw.to_numpy(dtype=np.float64)), index=values.index)


#: What a claim version says about the injury (everything but the payee).
CLAIM_FACT_COLUMNS = (
    "order_id", "worker_ref", "incident_at", "reported_at", "incident_province_code", "incident_city_code",
    "injury_type", "treatment", "inpatient_days", "medical_cost_fen", "disability_assessment",
    "liability_disputed", "documents",
)


def _same(left: Any, right: Any) -> bool:
    if hasattr(left, "tzinfo") and hasattr(right, "tzinfo"):
        return bool(as_utc(left) == as_utc(right))
    return bool(left == right)


def _duplicate_facts(row: Any) -> ClaimFacts:
    """The facts find_duplicates reads (worker, order, incident, filing order)."""
    return ClaimFacts(
        platform_code=row.platform_code, claim_id=row.claim_id, order_id=row.order_id, worker_ref=row.worker_ref,
        incident_at=as_utc(row.incident_at), reported_at=as_utc(row.reported_at), filed_on=row.partition_date,
        first_filed_on=row.first_filed_on, position=(row.partition_date, row.file_name, row.line),
        incident_province_code="", incident_city_code="", injury_type="", treatment="", inpatient_days=0,
        medical_cost_fen=0, disability_assessment=False, liability_disputed=False, documents=(),
    )


def claim_facts(version: Any, first_filed_on: date) -> ClaimFacts:
    """A stored claim version (an ORM object or a row with the same names) as facts."""
    return ClaimFacts(
        platform_code=version.platform_code, claim_id=version.claim_id, order_id=version.order_id,
        worker_ref=version.worker_ref, incident_at=as_utc(version.incident_at), reported_at=as_utc(version.reported_at),
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
        accepted_at=as_utc(order.accepted_at),
        completed_at=as_utc(order.completed_at) if order.completed_at is not None else None, status=order.status,
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
        """Decide, all at once, the claims with a version loaded by this day's run
        and the claims still pending; the work is bounded by the day's claims."""
        versions_table = ClaimVersion.metadata.tables["claim_version"]
        decisions_table = Decision.metadata.tables["decision"]
        new = session.execute(
            select(versions_table.c.platform_code, versions_table.c.claim_id)
            .where(versions_table.c.business_day == day).distinct()
        ).all()
        waiting = session.execute(
            select(decisions_table.c.platform_code, decisions_table.c.claim_id)
            .where(decisions_table.c.outcome == "pending", decisions_table.c.business_day < day,
                   decisions_table.c.basis == RULES).distinct()
        ).all()
        keys = {(platform, claim) for platform, claim in [*new, *waiting]}
        if not keys:
            return
        versions = _frame(session, versions_table, "claim_id", keys, day)
        current = _current(versions)
        latest = _latest_decisions(session, decisions_table, keys, day)
        keep = []
        for row in current.itertuples(index=False):
            previous = latest.get((row.platform_code, row.claim_id))
            if previous is not None and previous.business_day == day:
                keep.append(False)  # the run of this day decided it already: a re-run changes nothing
            else:
                keep.append(previous is None or previous.claim_version_id != row.id or previous.outcome == "pending")
        to_decide = current[np.array(keep, dtype=bool)].reset_index(drop=True)
        after_payment = self._after_payment(session, to_decide)
        to_decide = to_decide[[after_payment.get(key) != "payee_only" for key in
                               zip(to_decide["platform_code"], to_decide["claim_id"], strict=True)]].reset_index(drop=True)
        if to_decide.empty:
            return
        orders = self._orders_frame(session, to_decide)
        frame = to_decide.merge(orders, on=["platform_code", "order_id"], how="left")
        frame["order_found"] = frame["order_worker_ref"].notna()
        frame["duplicate_of"] = self._duplicates(session, versions_table, to_decide, day)
        frame["incident_us"] = _micros(frame["incident_at"])
        frame["reported_us"] = _micros(frame["reported_at"])
        frame["filed_on"] = frame["partition_date"]
        decided = decide(frame, self.book, day, self.policy)
        amended = np.array([after_payment.get(key) == "amended" for key in
                            zip(frame["platform_code"], frame["claim_id"], strict=True)], dtype=bool)
        if amended.any():  # after a payout, any change but the payee's goes to standard review
            decided.loc[amended, "outcome"] = "standard_review"
            decided.loc[amended, "reasons"] = "AMENDED_AFTER_PAYMENT"
            decided.loc[amended, "amount_fen"] = pd.NA
        decided_at = datetime.now(UTC)
        policy_note = {"coverage_grace_seconds": int(self.policy.coverage_grace.total_seconds()),
                       "pending_max_days": self.policy.pending_max_days}
        rows = []
        for claim, verdict in zip(frame.itertuples(index=False), decided.itertuples(index=False), strict=True):
            rule_set = self.book.get(verdict.rule_version)
            confirm_by, pay_by, estimated = self._deadlines(rule_set, verdict.outcome, claim.first_filed_on)
            reasons = verdict.reasons + (";CALENDAR_ESTIMATED" if estimated and verdict.reasons else
                                         "CALENDAR_ESTIMATED" if estimated else "")
            note = dict(policy_note, duplicate_of=claim.duplicate_of,
                        deadlines={"confirm_by": confirm_by.isoformat() if confirm_by else None,
                                   "pay_by": pay_by.isoformat() if pay_by else None, "calendar_estimated": estimated})
            rows.append({
                "platform_code": claim.platform_code, "claim_id": claim.claim_id, "claim_version_id": int(claim.id),
                "business_day": day, "basis": RULES, "outcome": verdict.outcome, "reason_codes": reasons,
                "rule_set": verdict.rule_set, "rule_version": verdict.rule_version,
                "payable_fen": None if pd.isna(verdict.amount_fen) else int(verdict.amount_fen),
                "filed_on": claim.first_filed_on, "confirm_by": confirm_by, "pay_by": pay_by,
                "calendar_estimated": estimated, "evaluation": json.dumps(note, sort_keys=True),
                "decided_at": decided_at,
            })
            result.decided[verdict.outcome] = result.decided.get(verdict.outcome, 0) + 1
            result.calendar_estimated += int(estimated)
        session.execute(insert(decisions_table), rows)  # core: no ORM overhead per row

    def _after_payment(self, session: Session, claims: pd.DataFrame) -> dict[tuple[str, str], str]:
        """For claims with a payout item: 'payee_only' when the new version changes
        only the payee (it acts by itself: a failed payment is paid again to it),
        'amended' when anything else changed (standard review)."""
        items = PayoutItem.metadata.tables["payout_item"]
        versions = ClaimVersion.metadata.tables["claim_version"]
        keys = set(zip(claims["platform_code"], claims["claim_id"], strict=True))
        paid: dict[tuple[str, str], int] = {}
        for platform, group in claims.groupby("platform_code"):
            claim_ids = sorted(set(group["claim_id"]))
            for start in range(0, len(claim_ids), 5000):
                for row in session.execute(
                    select(items.c.platform_code, items.c.claim_id, items.c.claim_version_id)
                    .where(items.c.platform_code == platform, items.c.claim_id.in_(claim_ids[start: start + 5000]))
                    .order_by(items.c.id)
                ):
                    paid[(row.platform_code, row.claim_id)] = row.claim_version_id
        if not paid:
            return {}
        before = {row.id: row for row in session.execute(select(versions).where(versions.c.id.in_(sorted(set(paid.values())))))}
        result = {}
        for claim in claims.itertuples(index=False):
            key = (claim.platform_code, claim.claim_id)
            if key not in paid or key not in keys:
                continue
            old = before[paid[key]]
            same = all(_same(getattr(old, name), getattr(claim, name)) for name in CLAIM_FACT_COLUMNS)
            result[key] = "payee_only" if same else "amended"
        return result

    def _deadlines(self, rule_set: RuleSet, outcome: str, first_filed_on: date) -> tuple[date | None, date | None, bool]:
        if outcome not in ("fast_track", "standard_review", "pending"):
            return None, None, False
        fast = outcome == "fast_track"
        confirm = self._working_days(first_filed_on, rule_set.confirm_working_days(fast))
        pay_days = rule_set.pay_working_days_fast_track if fast else None
        if pay_days is None:
            return confirm.date, None, confirm.estimated
        pay = self._working_days(first_filed_on, pay_days)
        return confirm.date, pay.date, confirm.estimated or pay.estimated

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one adjudicator per run; few distinct (day, n)
    def _working_days(self, start: date, count: int):  # type: ignore[no-untyped-def]
        return self.calendar.add_working_days(start, count)

    def _orders_frame(self, session: Session, claims: pd.DataFrame) -> pd.DataFrame:
        table = ClaimOrder.metadata.tables["claim_order"]
        columns = ["platform_code", "order_id", "order_worker_ref", "order_province_code", "accepted_us", "completed_us"]
        found: list[Any] = []
        for platform, group in claims.groupby("platform_code"):
            order_ids = sorted(set(group["order_id"]))
            for start in range(0, len(order_ids), 5000):
                found.extend(session.execute(
                    select(table.c.platform_code, table.c.order_id, table.c.worker_ref, table.c.province_code,
                           table.c.accepted_at, table.c.completed_at)
                    .where(table.c.platform_code == platform, table.c.order_id.in_(order_ids[start: start + 5000]))
                ).all())
        orders = pd.DataFrame([tuple(row) for row in found], columns=["platform_code", "order_id", "order_worker_ref", "order_province_code",
                                              "accepted_at", "completed_at"], dtype=object)
        orders["accepted_us"] = _micros(orders["accepted_at"])
        orders["completed_us"] = _micros(orders["completed_at"])
        return orders[columns]

    def _duplicates(self, session: Session, versions_table: Any, claims: pd.DataFrame, day: date) -> list[str | None]:
        """Earlier claims of the same worker, order and incident (rules.find_duplicates
        decides, over every claim filed for the orders concerned)."""
        columns = ["id", "platform_code", "claim_id", "order_id", "worker_ref", "incident_at", "reported_at",
                   "partition_date", "file_name", "line", "business_day"]
        others = _frame(session, versions_table, "order_id",
                        set(zip(claims["platform_code"], claims["order_id"], strict=True)), day, columns)
        everyone = _current(others)
        group = ["worker_ref", "platform_code", "order_id", "incident_at"]
        sizes = everyone.groupby(group, dropna=False)["claim_id"].transform("size")
        shared = everyone[sizes > 1]
        duplicates = find_duplicates(_duplicate_facts(row) for row in shared.itertuples(index=False))
        return [duplicates.get(key) for key in zip(claims["platform_code"], claims["claim_id"], strict=True)]

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
        keys = {(d.platform_code, d.claim_id) for d in pending}
        current = _current(_frame(session, ClaimVersion.metadata.tables["claim_version"], "claim_id", keys, day))
        versions = {(row.platform_code, row.claim_id): row for row in current.itertuples(index=False)}
        latest = _latest_decisions(session, Decision.metadata.tables["decision"], keys, day)
        applied_today: set[tuple[str, str]] = set()
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
                              "reason": determination.reason, "decided_at": as_utc(determination.decided_at).isoformat(),
                              "decided_by": determination.decided_by},
            "review_decision_business_day": review.business_day.isoformat(),
        }
        row = {
            "platform_code": key[0], "claim_id": key[1], "claim_version_id": int(versions[key].id), "business_day": day,
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
