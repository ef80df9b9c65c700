"""``claims explain CLAIM_ID``: a decision made readable for a person who has
never seen the code. Personal data is masked."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from claims.adjudication.pipeline import claim_facts, order_facts
from claims.adjudication.rules import Policy, RuleBook, evaluate, load_rule_sets
from claims.calendar import SHANGHAI, as_utc
from claims.ledger.models import ClaimOrder, ClaimVersion, Decision
from claims.privacy import Cipher, mask_name


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else f"{fen // 100:,}.{fen % 100:02d} yuan ({fen:,} fen)"


def _value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]" if value else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value is None else str(value)


def explain(engine: Engine, cipher: Cipher, claim_id: str, platform_code: str | None = None) -> str:
    with Session(engine) as session:
        query = select(ClaimVersion).where(ClaimVersion.claim_id == claim_id)
        if platform_code:
            query = query.where(ClaimVersion.platform_code == platform_code)
        versions = session.execute(
            query.order_by(ClaimVersion.platform_code, ClaimVersion.partition_date, ClaimVersion.file_name,
                           ClaimVersion.line)
        ).scalars().all()
        if not versions:
            return f"No claim {claim_id!r}{f' of platform {platform_code}' if platform_code else ''} has been loaded."
        platforms = sorted({v.platform_code for v in versions})
        if len(platforms) > 1:
            return f"Claim id {claim_id!r} exists for several platforms ({', '.join(platforms)}): add --platform."
        platform = platforms[0]
        decisions = session.execute(
            select(Decision).where(Decision.platform_code == platform, Decision.claim_id == claim_id)
            .order_by(Decision.business_day, Decision.id)
        ).scalars().all()
    current = versions[-1]
    lines = [f"Claim {claim_id} of platform {platform}", "", "Versions (contract order: filing date, file, line):"]
    for version in versions:
        mark = "  <- current" if version is current else ""
        lines.append(f"  filed {version.partition_date}  {version.file_name} line {version.line}"
                     f"  (loaded by the run of {version.business_day}){mark}")
    try:
        name = mask_name(cipher.decrypt(current.worker_name_enc))
    except Exception:  # noqa: BLE001 - a retired or erased key: say so rather than fail
        name = "(not decryptable: key retired or erased)"
    lines += [
        "",
        "The claim (current version; personal data masked):",
        f"  order            {current.order_id}",
        f"  worker           {name}, pseudonym {current.worker_ref[:8]}… (key {current.pseudonym_key_id})",
        f"  incident         {as_utc(current.incident_at).astimezone(SHANGHAI).isoformat()} in "
        f"{current.incident_province_code}/{current.incident_city_code}",
        f"  reported         {as_utc(current.reported_at).astimezone(SHANGHAI).isoformat()}",
        f"  injury           {current.injury_type}, treatment {current.treatment}, "
        f"{current.inpatient_days} inpatient day(s)",
        f"  medical cost     {_yuan(current.medical_cost_fen)}",
        f"  assessment       disability assessment requested: {_value(current.disability_assessment)}; "
        f"liability disputed: {_value(current.liability_disputed)}",
        f"  documents        {current.documents.replace(';', ', ') or 'none'}",
        f"  payee            account {current.payee_account_masked}, bank branch {current.payee_bank_code}",
    ]
    if not decisions:
        lines += ["", "Not decided yet: adjudication decides it in the run of the day its order and claim are loaded."]
        return "\n".join(lines)
    book = load_rule_sets()
    for decision in decisions:
        detail = json.loads(decision.note.body)
        lines += ["", f"Decision of the run of {decision.business_day} ({decision.basis}), "
                      f"rule set {decision.rule_version or '-'}:"]
        if decision.basis == "rules":
            lines.extend(_rule_lines(engine, book, decision, detail))
        if "determination" in detail:
            det = detail["determination"]
            lines.append(f"  HRSS determination: {det['decision']} by {det['decided_by']} at {det['decided_at']}; "
                         f"approved {_yuan(det['approved_amount_fen'])}; reason: {det['reason'] or '-'}")
        reasons = decision.reason_codes.replace(";", ", ") or "none"
        lines.append(f"  => outcome {decision.outcome}; reasons: {reasons}")
        if decision.payable_fen is not None:
            lines.append(f"     payable {_yuan(decision.payable_fen)}")
        deadlines = detail.get("deadlines") or {}
        if decision.confirm_by:
            estimated = " (estimated: no official calendar for that year)" if decision.calendar_estimated else ""
            pay = f", pay by {deadlines.get('pay_by')}" if deadlines.get("pay_by") else ""
            lines.append(f"     confirm by {decision.confirm_by} (working days from filing on "
                         f"{decision.filed_on}){pay}{estimated}")
    return "\n".join(lines)


def _rule_lines(engine: Engine, book: RuleBook, decision: Decision, detail: dict) -> list[str]:
    """Every rule's inputs and verdict, recomputed by the reference engine from the
    stored facts of the decision (the same facts give the same evaluation)."""
    with Session(engine) as session:
        version = session.get(ClaimVersion, decision.claim_version_id)
        if version is None:
            return ["  (the claim version of this decision is missing from the ledger)"]
        waited_for_order = decision.reason_codes.split(";")[0] in ("ORDER_NOT_LOADED", "NO_ORDER_RECORD")
        order = None if waited_for_order else session.execute(
            select(ClaimOrder).where(ClaimOrder.platform_code == decision.platform_code,
                                     ClaimOrder.order_id == version.order_id)
        ).scalar_one_or_none()
    policy = Policy(coverage_grace=timedelta(seconds=detail.get("coverage_grace_seconds", 0)),
                    pending_max_days=detail.get("pending_max_days", 7))
    evaluation = evaluate(claim_facts(version, decision.filed_on), order_facts(order) if order else None, book,
                          decision.business_day, policy, detail.get("duplicate_of"))
    lines = []
    for check in evaluation.checks:
        verdict = "pass" if check.passed else f"FAIL {check.reason_code}"
        inputs = ", ".join(f"{key}={_value(value)}" for key, value in check.inputs.items())
        lines.append(f"  [{verdict}] {check.name}: {inputs}")
    stored = [code for code in decision.reason_codes.split(";") if code and code != "CALENDAR_ESTIMATED"]
    if evaluation.outcome != decision.outcome or list(evaluation.reasons) != stored:
        lines.append(f"  (note: today's rule data gives {evaluation.outcome} {list(evaluation.reasons)}; "
                     "the decision stands as recorded)")
    return lines
