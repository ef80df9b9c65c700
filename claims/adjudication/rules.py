"""The fast-track rule engine: pure functions over claim and order facts.

Rule sets are data: one JSON file per rule-set version in
``claims/reference/data/rule_sets/`` (or ``CLAIMS_RULE_SETS_DIR``), each effective
from a date for one province, or for every province without its own (``"*"``, the
national default). The order's province insures the worker, so it selects the rule
set; the claim's filing date selects the version.

``evaluate`` runs every rule, records each rule's inputs and verdict (a ``Check``)
and every reason that applied, and decides:

- ``pending``: the claim's order is not loaded yet (``ORDER_NOT_LOADED``), until
  ``Policy.pending_max_days`` after the first filing, then ``standard_review``
  (``NO_ORDER_RECORD``);
- ``rejected``: the claimant is not the order's worker;
- ``fast_track``: every rule passed; the medical cost claimed is paid;
- ``standard_review``: otherwise, with every failing reason.

Nothing here reads the database, the clock or the environment beyond locating the
rule-set folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from claims.calendar import SHANGHAI
from claims.settings import setting

RULE_SETS_DIR = Path(__file__).resolve().parents[1] / "reference" / "data" / "rule_sets"
NATIONAL = "*"
TREATMENTS = ("outpatient", "emergency", "inpatient")

FAST_TRACK = "fast_track"
STANDARD_REVIEW = "standard_review"
PENDING = "pending"
REJECTED = "rejected"
OUTCOMES = (FAST_TRACK, STANDARD_REVIEW, PENDING, REJECTED)


# --------------------------------------------------------------------------- rule sets


class RuleSetError(ValueError):
    """A rule-set file is invalid; the message names the file."""


class NoRuleSetError(LookupError):
    """No rule set (not even the national default) is in force for a province and date."""


@dataclass(frozen=True)
class FastTrackRules:
    allowed_treatments: tuple[str, ...]
    max_inpatient_days: int
    cost_cap_fen: int | None  # exclusive: the cost must be strictly under it; None: no cap
    no_disability_assessment: bool
    undisputed: bool
    required_documents: tuple[str, ...]
    filing_deadline_days: int  # calendar days from the report's Asia/Shanghai date to the filing
    #: the most a claim may be paid without a person's review (inclusive): the
    #: authority limit of automatic payment, whatever the cost cap says
    automatic_payment_limit_fen: int = 300000
    #: the injury must have happened (and been treated) in the insuring province
    incident_in_province: bool = True


@dataclass(frozen=True)
class Deadlines:
    confirm_working_days_fast_track: int
    confirm_working_days_standard: int
    pay_working_days_fast_track: int | None


@dataclass(frozen=True)
class RuleSet:
    rule_set: str
    version: str
    province_code: str  # six digits, or "*" for the national default
    effective_from: date
    source: str
    fast_track: FastTrackRules
    deadlines: Deadlines
    notes: str = ""
    file: str = ""  # the file it was loaded from (for messages only)

    @property
    def rule_version(self) -> str:
        """The identifier a decision records, e.g. ``hainan-small-injury@2025-01``."""
        return f"{self.rule_set}@{self.version}"

    @property
    def is_national_default(self) -> bool:
        return self.province_code == NATIONAL

    def confirm_working_days(self, fast_track: bool) -> int:
        """Working days the HRSS office has to confirm the injury."""
        if fast_track:
            return self.deadlines.confirm_working_days_fast_track
        return self.deadlines.confirm_working_days_standard

    @property
    def pay_working_days_fast_track(self) -> int | None:
        return self.deadlines.pay_working_days_fast_track


@dataclass(frozen=True)
class RuleBook:
    rule_sets: tuple[RuleSet, ...]

    def select(self, province_code: str, filed_on: date) -> RuleSet:
        """The province's version in force on ``filed_on``, else the national default's."""
        for province in (province_code, NATIONAL):
            in_force = [r for r in self.rule_sets if r.province_code == province and r.effective_from <= filed_on]
            if in_force:
                return max(in_force, key=lambda r: r.effective_from)
        raise NoRuleSetError(
            f"no rule set for province {province_code} and no national default in force on {filed_on.isoformat()}"
        )

    def get(self, rule_version: str) -> RuleSet:
        """A rule set by its ``rule_version`` (as recorded on a decision)."""
        for rule_set in self.rule_sets:
            if rule_set.rule_version == rule_version:
                return rule_set
        raise KeyError(rule_version)


_TOP_KEYS = {"rule_set", "version", "province_code", "effective_from", "source", "fast_track", "deadlines"}
_OPTIONAL_TOP_KEYS = {"notes"}
_FAST_TRACK_KEYS = {
    "allowed_treatments", "max_inpatient_days", "cost_cap_fen", "no_disability_assessment", "undisputed",
    "required_documents", "filing_deadline_days", "automatic_payment_limit_fen", "incident_in_province",
}
_DEADLINE_KEYS = {"confirm_working_days_fast_track", "confirm_working_days_standard", "pay_working_days_fast_track"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PROVINCE = re.compile(r"^[1-9][0-9]0000$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DOCUMENT = re.compile(r"^[a-z][a-z0-9_]*$")


class _Reader:
    """Strict accessors that raise ``RuleSetError`` naming the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, problem: str) -> RuleSetError:
        return RuleSetError(f"rule-set file {self.path}: {problem}")

    def keys(self, where: str, value: Any, required: set[str], optional: Collection[str] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(f"{where} must be a JSON object")
        unknown = sorted(set(value) - required - set(optional))
        if unknown:
            raise self.error(f"unknown key(s) in {where}: {', '.join(unknown)}")
        missing = sorted(required - set(value))
        if missing:
            raise self.error(f"missing key(s) in {where}: {', '.join(missing)}")
        return value

    def text(self, where: str, value: Any, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{where} must be a non-empty string")
        if pattern is not None and not pattern.match(value):
            raise self.error(f"{where} {value!r} does not match {pattern.pattern}")
        return value

    def integer(self, where: str, value: Any, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{where} must be an integer, got {value!r}")
        if value < minimum:
            raise self.error(f"{where} must be >= {minimum}, got {value}")
        return value

    def optional_integer(self, where: str, value: Any, minimum: int = 0) -> int | None:
        return None if value is None else self.integer(f"{where} (an integer or null)", value, minimum)

    def boolean(self, where: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(f"{where} must be true or false, got {value!r}")
        return value

    def day(self, where: str, value: Any) -> date:
        if not isinstance(value, str) or not _DAY.match(value):
            raise self.error(f"{where} must be a date YYYY-MM-DD, got {value!r}")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.error(f"{where} is not a calendar date: {value!r}") from None

    def names(self, where: str, value: Any, pattern: re.Pattern[str], allowed: tuple[str, ...] = ()) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.error(f"{where} must be a non-empty list")
        items = tuple(self.text(f"{where}[{i}]", item, pattern) for i, item in enumerate(value))
        if allowed:
            unknown = sorted(set(items) - set(allowed))
            if unknown:
                raise self.error(f"{where} has unknown value(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        if len(set(items)) != len(items):
            raise self.error(f"{where} lists a value twice")
        return items


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def parse_rule_set(path: Path) -> RuleSet:
    """Read and validate one rule-set file."""
    read = _Reader(path)
    try:
        document = json.loads(
            path.read_text(encoding="utf-8"),
            object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise read.error(f"not valid UTF-8 JSON: {error}") from None
    top = read.keys("the file", document, _TOP_KEYS, _OPTIONAL_TOP_KEYS)
    ft = read.keys("fast_track", top["fast_track"], _FAST_TRACK_KEYS)
    dl = read.keys("deadlines", top["deadlines"], _DEADLINE_KEYS)
    province = read.text("province_code", top["province_code"])
    if province != NATIONAL and not _PROVINCE.match(province):
        raise read.error(f"province_code must be a 6-digit province code (NN0000) or '*', got {province!r}")
    notes = top.get("notes", "")
    if not isinstance(notes, str):
        raise read.error("notes must be a string")
    return RuleSet(
        rule_set=read.text("rule_set", top["rule_set"], _NAME),
        version=read.text("version", top["version"], _VERSION),
        province_code=province,
        effective_from=read.day("effective_from", top["effective_from"]),
        source=read.text("source", top["source"]),
        fast_track=FastTrackRules(
            allowed_treatments=read.names("fast_track.allowed_treatments", ft["allowed_treatments"], _NAME, TREATMENTS),
            max_inpatient_days=read.integer("fast_track.max_inpatient_days", ft["max_inpatient_days"]),
            cost_cap_fen=read.optional_integer("fast_track.cost_cap_fen", ft["cost_cap_fen"], minimum=1),
            no_disability_assessment=read.boolean("fast_track.no_disability_assessment", ft["no_disability_assessment"]),
            undisputed=read.boolean("fast_track.undisputed", ft["undisputed"]),
            required_documents=read.names("fast_track.required_documents", ft["required_documents"], _DOCUMENT),
            filing_deadline_days=read.integer("fast_track.filing_deadline_days", ft["filing_deadline_days"]),
            automatic_payment_limit_fen=read.integer("fast_track.automatic_payment_limit_fen",
                                                     ft["automatic_payment_limit_fen"], minimum=1),
            incident_in_province=read.boolean("fast_track.incident_in_province", ft["incident_in_province"]),
        ),
        deadlines=Deadlines(
            confirm_working_days_fast_track=read.integer(
                "deadlines.confirm_working_days_fast_track", dl["confirm_working_days_fast_track"], minimum=1),
            confirm_working_days_standard=read.integer(
                "deadlines.confirm_working_days_standard", dl["confirm_working_days_standard"], minimum=1),
            pay_working_days_fast_track=read.optional_integer(
                "deadlines.pay_working_days_fast_track", dl["pay_working_days_fast_track"], minimum=1),
        ),
        notes=notes,
        file=str(path),
    )


def _rule_sets_dir() -> Path:
    configured = setting("CLAIMS_RULE_SETS_DIR")
    return Path(configured) if configured else RULE_SETS_DIR


def load_rule_sets(directory: Path | None = None) -> RuleBook:
    """Every ``*.json`` file of the folder (default: the packaged one, or ``CLAIMS_RULE_SETS_DIR``).

    Raises ``RuleSetError`` (naming the file) for an invalid file, a version listed
    twice, two versions of a province effective on the same day, one rule-set name
    used for two provinces, or a folder without a national default.
    """
    directory = directory if directory is not None else _rule_sets_dir()
    if not directory.is_dir():
        raise RuleSetError(f"rule-set folder {directory} does not exist")
    rule_sets = [parse_rule_set(path) for path in sorted(directory.glob("*.json"))]
    by_version: dict[tuple[str, str], RuleSet] = {}
    by_start: dict[tuple[str, date], RuleSet] = {}
    province_of: dict[str, RuleSet] = {}
    for rule_set in rule_sets:
        version = (rule_set.rule_set, rule_set.version)
        if version in by_version:
            raise RuleSetError(
                f"rule-set file {rule_set.file}: rule set {rule_set.rule_set!r} version {rule_set.version!r} "
                f"is already defined in {by_version[version].file}"
            )
        by_version[version] = rule_set
        start = (rule_set.province_code, rule_set.effective_from)
        if start in by_start:
            raise RuleSetError(
                f"rule-set file {rule_set.file}: province {rule_set.province_code} already has a rule set "
                f"effective from {rule_set.effective_from.isoformat()} in {by_start[start].file}"
            )
        by_start[start] = rule_set
        first = province_of.setdefault(rule_set.rule_set, rule_set)
        if first.province_code != rule_set.province_code:
            raise RuleSetError(
                f"rule-set file {rule_set.file}: rule set {rule_set.rule_set!r} is for province "
                f"{first.province_code} in {first.file}, not {rule_set.province_code}"
            )
    if not any(r.is_national_default for r in rule_sets):
        raise RuleSetError(f"rule-set folder {directory} has no national default (province_code \"*\")")
    return RuleBook(tuple(sorted(rule_sets, key=lambda r: (r.province_code, r.effective_from))))


# --------------------------------------------------------------------------- facts


def _require_aware(owner: str, **instants: datetime | None) -> None:
    for name, instant in instants.items():
        if instant is not None and (instant.tzinfo is None or instant.utcoffset() is None):
            raise ValueError(f"{owner}.{name} must be timezone-aware")


@dataclass(frozen=True)
class ClaimFacts:
    platform_code: str
    claim_id: str
    order_id: str
    worker_ref: str  # the claimant's pseudonym
    incident_at: datetime
    reported_at: datetime
    filed_on: date  # this version's partition date (its filing date)
    first_filed_on: date  # the first version's filing date
    position: tuple[date, str, int]  # (partition date, file name, line): the contract's version order
    incident_province_code: str
    incident_city_code: str
    injury_type: str
    treatment: str
    inpatient_days: int
    medical_cost_fen: int
    disability_assessment: bool
    liability_disputed: bool
    documents: tuple[str, ...]

    def __post_init__(self) -> None:
        _require_aware("ClaimFacts", incident_at=self.incident_at, reported_at=self.reported_at)
        if self.inpatient_days < 0 or self.medical_cost_fen < 0:
            raise ValueError("ClaimFacts: inpatient_days and medical_cost_fen are >= 0")
        if not isinstance(self.documents, tuple):
            raise TypeError("ClaimFacts.documents must be a tuple")

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform_code, self.claim_id)


@dataclass(frozen=True)
class OrderFacts:
    platform_code: str
    order_id: str
    worker_ref: str  # the order's worker's pseudonym
    province_code: str  # where the order was accepted: the worker is insured there
    city_code: str
    industry: str
    accepted_at: datetime
    completed_at: datetime | None  # None for a cancelled order
    status: str

    def __post_init__(self) -> None:
        _require_aware("OrderFacts", accepted_at=self.accepted_at, completed_at=self.completed_at)


@dataclass(frozen=True)
class Policy:
    """Configuration of the engine (not of a province)."""

    coverage_grace: timedelta = timedelta(0)  # how long after the order's end an injury is still covered
    pending_max_days: int = 7  # days after the first filing to wait for the order before standard review

    def __post_init__(self) -> None:
        if not isinstance(self.coverage_grace, timedelta) or self.coverage_grace < timedelta(0):
            raise ValueError("Policy.coverage_grace must be a timedelta >= 0")
        if isinstance(self.pending_max_days, bool) or not isinstance(self.pending_max_days, int):
            raise ValueError("Policy.pending_max_days must be an integer")
        if self.pending_max_days < 7:
            raise ValueError(f"Policy.pending_max_days must be >= 7 (platforms deliver up to 6 days late), "
                             f"got {self.pending_max_days}")


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Check:
    """One rule's verdict: its name, the inputs it looked at (JSON-safe, no personal
    identifiers), whether it passed, and the reason code when it did not."""

    name: str
    inputs: dict[str, Any]
    passed: bool
    reason_code: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "inputs": self.inputs, "passed": self.passed, "reason_code": self.reason_code}


@dataclass(frozen=True)
class Evaluation:
    outcome: str
    reasons: tuple[str, ...]
    rule_set: RuleSet | None
    checks: tuple[Check, ...]
    amount_fen: int | None = None

    @property
    def rule_version(self) -> str | None:
        return self.rule_set.rule_version if self.rule_set is not None else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe explanation of the decision."""
        return {
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "rule_version": self.rule_version,
            "amount_fen": self.amount_fen,
            "checks": [check.as_dict() for check in self.checks],
        }


def _verdict(name: str, inputs: dict[str, Any], passed: bool, reason_code: str) -> Check:
    return Check(name, inputs, passed, None if passed else reason_code)


def _instant(value: datetime | None) -> str | None:
    return value.astimezone(SHANGHAI).isoformat() if value is not None else None


@dataclass(frozen=True)
class _Facts:
    claim: ClaimFacts
    order: OrderFacts
    rules: FastTrackRules
    policy: Policy
    duplicate_of: str | None = field(default=None)


def claimant_is_order_worker(facts: _Facts) -> Check:
    same = facts.claim.worker_ref == facts.order.worker_ref
    return _verdict("claimant_is_order_worker", {"same_worker": same}, same,
                    reason_code="CLAIMANT_NOT_ORDER_WORKER")


def covered(facts: _Facts) -> Check:
    """The injury happened while the order ran: from acceptance to completion (a
    cancelled order: its acceptance) plus the grace, both ends inclusive."""
    order, incident_at = facts.order, facts.claim.incident_at
    end = order.completed_at if order.completed_at is not None else order.accepted_at
    window_end = end + facts.policy.coverage_grace
    passed = order.accepted_at <= incident_at <= window_end
    inputs = {
        "incident_at": _instant(incident_at), "accepted_at": _instant(order.accepted_at),
        "completed_at": _instant(order.completed_at), "status": order.status,
        "grace_seconds": int(facts.policy.coverage_grace.total_seconds()), "window_end": _instant(window_end),
    }
    return _verdict("covered", inputs, passed, reason_code="NOT_COVERED")


def treatment_allowed(facts: _Facts) -> Check:
    allowed = facts.rules.allowed_treatments
    inputs = {"treatment": facts.claim.treatment, "allowed_treatments": list(allowed)}
    return _verdict("treatment_allowed", inputs, facts.claim.treatment in allowed,
                    reason_code="TREATMENT_NOT_ALLOWED")


def no_inpatient_stay(facts: _Facts) -> Check:
    days, limit = facts.claim.inpatient_days, facts.rules.max_inpatient_days
    inputs = {"inpatient_days": days, "max_inpatient_days": limit}
    return _verdict("no_inpatient_stay", inputs, days <= limit, reason_code="INPATIENT_STAY")


def cost_under_cap(facts: _Facts) -> Check:
    cost, cap = facts.claim.medical_cost_fen, facts.rules.cost_cap_fen
    inputs = {"medical_cost_fen": cost, "cost_cap_fen": cap, "cap_exclusive": True}
    return _verdict("cost_under_cap", inputs, cap is None or cost < cap, reason_code="COST_OVER_CAP")


def no_disability_assessment(facts: _Facts) -> Check:
    requested, applies = facts.claim.disability_assessment, facts.rules.no_disability_assessment
    inputs = {"disability_assessment": requested, "rule_applies": applies}
    return _verdict("no_disability_assessment", inputs, not (applies and requested),
                    reason_code="DISABILITY_ASSESSMENT_REQUESTED")


def liability_undisputed(facts: _Facts) -> Check:
    disputed, applies = facts.claim.liability_disputed, facts.rules.undisputed
    inputs = {"liability_disputed": disputed, "rule_applies": applies}
    return _verdict("liability_undisputed", inputs, not (applies and disputed), reason_code="LIABILITY_DISPUTED")


def documents_complete(facts: _Facts) -> Check:
    required = facts.rules.required_documents
    missing = [name for name in required if name not in facts.claim.documents]
    inputs = {"required_documents": list(required), "missing": missing}
    return _verdict("documents_complete", inputs, not missing, reason_code="DOCUMENTS_MISSING")


def not_duplicate(facts: _Facts) -> Check:
    inputs = {"duplicate_of": facts.duplicate_of}
    return _verdict("not_duplicate", inputs, facts.duplicate_of is None, reason_code="DUPLICATE_CLAIM")


def filed_in_time(facts: _Facts) -> Check:
    """Counted from the claim's first filing: amending a claim later does not make it late."""
    reported_on = facts.claim.reported_at.astimezone(SHANGHAI).date()
    days = (facts.claim.first_filed_on - reported_on).days
    limit = facts.rules.filing_deadline_days
    inputs = {"reported_on": reported_on.isoformat(), "first_filed_on": facts.claim.first_filed_on.isoformat(),
              "days": days, "filing_deadline_days": limit}
    return _verdict("filed_in_time", inputs, days <= limit, reason_code="FILED_LATE")


def within_automatic_payment_limit(facts: _Facts) -> Check:
    """What fast track pays (the medical cost claimed) stays within the rule set's
    authority limit of automatic payment; above it a person reviews the claim."""
    cost, limit = facts.claim.medical_cost_fen, facts.rules.automatic_payment_limit_fen
    inputs = {"medical_cost_fen": cost, "automatic_payment_limit_fen": limit}
    return _verdict("within_automatic_payment_limit", inputs, cost <= limit, reason_code="OVER_AUTOMATIC_LIMIT")


def incident_in_province(facts: _Facts) -> Check:
    """Where the rule set says so (Beijing: treatment in Beijing), the injury
    happened in the insuring province (the order's)."""
    incident, insuring = facts.claim.incident_province_code, facts.order.province_code
    applies = facts.rules.incident_in_province
    inputs = {"incident_province_code": incident, "insuring_province_code": insuring, "rule_applies": applies}
    return _verdict("incident_in_province", inputs, not applies or incident == insuring,
                    reason_code="INCIDENT_OUTSIDE_PROVINCE")


# The rules in the order their checks and reasons are recorded (rules added later
# come last, so that the reasons of earlier decisions keep their order).
RULES: tuple[Callable[[_Facts], Check], ...] = (
    claimant_is_order_worker, covered, treatment_allowed, no_inpatient_stay, cost_under_cap,
    no_disability_assessment, liability_undisputed, documents_complete, not_duplicate, filed_in_time,
    within_automatic_payment_limit, incident_in_province,
)


def order_loaded(claim: ClaimFacts, order: OrderFacts | None, decided_on: date, policy: Policy) -> Check:
    """The claim's order is loaded; without it the claim waits ``pending_max_days``
    from its first filing, then goes to standard review."""
    waited = (decided_on - claim.first_filed_on).days
    inputs = {"order_id": claim.order_id, "first_filed_on": claim.first_filed_on.isoformat(),
              "decided_on": decided_on.isoformat(), "days_waited": waited,
              "pending_max_days": policy.pending_max_days}
    if order is not None:
        return Check("order_loaded", inputs, True, None)
    if waited >= policy.pending_max_days:
        return Check("order_loaded", inputs, False, reason_code="NO_ORDER_RECORD")
    return Check("order_loaded", inputs, False, reason_code="ORDER_NOT_LOADED")


def evaluate(
    claim: ClaimFacts,
    order: OrderFacts | None,
    book: RuleBook,
    decided_on: date,
    policy: Policy,
    duplicate_of: str | None = None,
) -> Evaluation:
    """Decide one claim version. Pure: the same facts give the same evaluation."""
    loaded = order_loaded(claim, order, decided_on, policy)
    if order is None:
        rule_set = book.select(claim.incident_province_code, claim.filed_on)  # for its deadlines only
        outcome = STANDARD_REVIEW if loaded.reason_code == "NO_ORDER_RECORD" else PENDING
        return Evaluation(outcome, (str(loaded.reason_code),), rule_set, (loaded,))
    if (order.platform_code, order.order_id) != (claim.platform_code, claim.order_id):
        raise ValueError(
            f"claim {claim.platform_code}/{claim.claim_id} is for order {claim.order_id}, "
            f"got order {order.platform_code}/{order.order_id}"
        )
    rule_set = book.select(order.province_code, claim.filed_on)
    facts = _Facts(claim, order, rule_set.fast_track, policy, duplicate_of)
    checks = (loaded, *(rule(facts) for rule in RULES))
    reasons = tuple(str(check.reason_code) for check in checks if not check.passed)
    if claim.worker_ref != order.worker_ref:
        return Evaluation(REJECTED, reasons, rule_set, checks)
    if reasons:
        return Evaluation(STANDARD_REVIEW, reasons, rule_set, checks)
    return Evaluation(FAST_TRACK, (), rule_set, checks, claim.medical_cost_fen)


# --------------------------------------------------------------------------- duplicates


def _filing_order(claim: ClaimFacts) -> tuple[date, tuple[date, str, int], str]:
    # The first filing date leads so that amending a claim on a later day does not
    # make it lose its place to a duplicate filed in between.
    return (claim.first_filed_on, claim.position, claim.claim_id)


def find_duplicates(claims: Iterable[ClaimFacts]) -> dict[tuple[str, str], str]:
    """Claims of the same worker for the same (platform, order) and incident time.

    Maps the key (platform_code, claim_id) of every claim but the first of its
    group (in filing order: first filing date, then the contract's version
    position, then claim_id) to the first claim's id. Independent of input order.
    Each claim must appear once (its current version).
    """
    groups: dict[tuple[str, str, str, datetime], list[ClaimFacts]] = {}
    seen: set[tuple[str, str]] = set()
    for claim in claims:
        if claim.key in seen:
            raise ValueError(f"claim {claim.platform_code}/{claim.claim_id} is listed twice")
        seen.add(claim.key)
        groups.setdefault((claim.worker_ref, claim.platform_code, claim.order_id, claim.incident_at), []).append(claim)
    duplicates: dict[tuple[str, str], str] = {}
    for members in groups.values():
        first, *others = sorted(members, key=_filing_order)
        for other in others:
            duplicates[other.key] = first.claim_id
    return dict(sorted(duplicates.items()))
