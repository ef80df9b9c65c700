"""The fast-track rule engine at every boundary: each test changes one fact."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claims.adjudication.rules import (
    FAST_TRACK,
    PENDING,
    REJECTED,
    RULE_SETS_DIR,
    RULES,
    STANDARD_REVIEW,
    ClaimFacts,
    Evaluation,
    NoRuleSetError,
    OrderFacts,
    Policy,
    RuleBook,
    RuleSetError,
    evaluate,
    find_duplicates,
    load_rule_sets,
)
from claims.calendar import SHANGHAI

BOOK = load_rule_sets()
POLICY = Policy()
DOCUMENTS = ("application_form", "consent", "diagnosis", "receipts", "liability_determination")
ACCEPTED = datetime(2025, 9, 1, 12, 0, tzinfo=SHANGHAI)
COMPLETED = ACCEPTED + timedelta(minutes=40)
FILED = date(2025, 9, 2)
DECIDED = date(2025, 9, 2)
SECOND = timedelta(seconds=1)
WORKER = "pseudo-7f3a9c"
OTHER_WORKER = "pseudo-000bad"
HAINAN, BEIJING, SHANGHAI_PROVINCE = "460000", "110000", "310000"

ORDER = OrderFacts(
    platform_code="didi", order_id="DD-20250901-0001", worker_ref=WORKER, province_code=HAINAN,
    city_code="460100", industry="ride_hailing", accepted_at=ACCEPTED, completed_at=COMPLETED, status="completed",
)
CLAIM = ClaimFacts(
    platform_code="didi", claim_id="CL-0001", order_id="DD-20250901-0001", worker_ref=WORKER,
    incident_at=ACCEPTED + timedelta(minutes=20), reported_at=ACCEPTED + timedelta(minutes=45),
    filed_on=FILED, first_filed_on=FILED, position=(FILED, "claims.csv", 2),
    incident_province_code=HAINAN, incident_city_code="460100", injury_type="sprain", treatment="outpatient",
    inpatient_days=0, medical_cost_fen=45000, disability_assessment=False, liability_disputed=False,
    documents=DOCUMENTS,
)


def in_province(province: str, claim: ClaimFacts = CLAIM, order: OrderFacts = ORDER) -> tuple[ClaimFacts, OrderFacts]:
    city = province[:2] + "0100"
    return (replace(claim, incident_province_code=province, incident_city_code=city),
            replace(order, province_code=province, city_code=city))


def decide(
    claim: ClaimFacts = CLAIM,
    order: OrderFacts | None = ORDER,
    *,
    book: RuleBook = BOOK,
    decided_on: date = DECIDED,
    policy: Policy = POLICY,
    duplicate_of: str | None = None,
) -> Evaluation:
    return evaluate(claim, order, book, decided_on, policy, duplicate_of)


def check(evaluation: Evaluation, name: str) -> Any:
    return next(c for c in evaluation.checks if c.name == name)


# --------------------------------------------------------------------------- the packaged rule sets


def test_the_packaged_rule_sets() -> None:
    versions = {r.rule_version: r for r in BOOK.rule_sets}
    assert set(versions) == {"national-default@2022-07", "beijing-small-injury@2025-01", "hainan-small-injury@2025-01"}
    national, beijing, hainan = (versions["national-default@2022-07"], versions["beijing-small-injury@2025-01"],
                                 versions["hainan-small-injury@2025-01"])
    assert (national.province_code, national.effective_from) == ("*", date(2022, 7, 1))
    assert national.fast_track.cost_cap_fen == 300000 and national.fast_track.allowed_treatments == ("outpatient", "emergency")
    assert national.fast_track.required_documents == DOCUMENTS
    assert (national.confirm_working_days(True), national.confirm_working_days(False)) == (7, 30)
    assert beijing.fast_track.cost_cap_fen is None and beijing.effective_from == date(2025, 1, 1)
    assert hainan.fast_track.cost_cap_fen == 300000
    assert (hainan.confirm_working_days(True), hainan.pay_working_days_fast_track) == (2, 5)
    for rule_set in BOOK.rule_sets:
        assert rule_set.fast_track.filing_deadline_days == 30
        assert rule_set.fast_track.max_inpatient_days == 0
        assert rule_set.fast_track.no_disability_assessment and rule_set.fast_track.undisputed


@pytest.mark.parametrize(
    ("province", "filed_on", "expected"),
    [
        (HAINAN, date(2025, 1, 1), "hainan-small-injury@2025-01"),
        (HAINAN, date(2024, 12, 31), "national-default@2022-07"),
        (BEIJING, date(2025, 9, 1), "beijing-small-injury@2025-01"),
        (SHANGHAI_PROVINCE, date(2025, 9, 1), "national-default@2022-07"),
        (SHANGHAI_PROVINCE, date(2022, 7, 1), "national-default@2022-07"),
    ],
)
def test_select_takes_the_province_then_the_national_default(province: str, filed_on: date, expected: str) -> None:
    assert BOOK.select(province, filed_on).rule_version == expected


def test_nothing_is_in_force_before_the_scheme() -> None:
    with pytest.raises(NoRuleSetError, match="310000"):
        BOOK.select(SHANGHAI_PROVINCE, date(2022, 6, 30))


def test_get_finds_a_recorded_version() -> None:
    assert BOOK.get("hainan-small-injury@2025-01").province_code == HAINAN
    with pytest.raises(KeyError):
        BOOK.get("hainan-small-injury@1999-01")


# --------------------------------------------------------------------------- one claim, one change


def test_a_clear_small_injury_is_fast_tracked_with_every_check_recorded() -> None:
    evaluation = decide()
    assert evaluation.outcome == FAST_TRACK
    assert evaluation.reasons == ()
    assert evaluation.amount_fen == 45000
    assert evaluation.rule_version == "hainan-small-injury@2025-01"
    assert [c.name for c in evaluation.checks] == ["order_loaded"] + [rule.__name__ for rule in RULES]
    assert all(c.passed and c.reason_code is None for c in evaluation.checks)


@pytest.mark.parametrize(
    ("province", "cost", "reasons"),
    [
        (HAINAN, 299999, ()),
        (HAINAN, 300000, ("COST_OVER_CAP",)),  # "under 3,000 yuan": the cap itself is not under
        (HAINAN, 300001, ("COST_OVER_CAP", "OVER_AUTOMATIC_LIMIT")),  # above the authority limit too
        (HAINAN, 0, ()),
        (SHANGHAI_PROVINCE, 299999, ()),  # the national default has the same cap
        (SHANGHAI_PROVINCE, 300000, ("COST_OVER_CAP",)),
        (BEIJING, 299999, ()),  # no cap published
        (BEIJING, 300000, ()),
        (BEIJING, 300001, ("OVER_AUTOMATIC_LIMIT",)),  # but the authority limit holds
        (BEIJING, 10**9, ("OVER_AUTOMATIC_LIMIT",)),
    ],
)
def test_cost_cap(province: str, cost: int, reasons: tuple[str, ...]) -> None:
    claim, order = in_province(province)
    evaluation = decide(replace(claim, medical_cost_fen=cost), order)
    assert evaluation.reasons == reasons
    assert evaluation.outcome == (STANDARD_REVIEW if reasons else FAST_TRACK)
    assert evaluation.amount_fen == (None if reasons else cost)
    inputs = check(evaluation, "cost_under_cap").inputs
    assert inputs["medical_cost_fen"] == cost
    assert inputs["cost_cap_fen"] == (None if province == BEIJING else 300000)


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({"inpatient_days": 0}, ()),
        ({"inpatient_days": 1}, ("INPATIENT_STAY",)),
        ({"treatment": "emergency"}, ()),
        ({"treatment": "inpatient"}, ("TREATMENT_NOT_ALLOWED",)),
        ({"treatment": "inpatient", "inpatient_days": 3}, ("TREATMENT_NOT_ALLOWED", "INPATIENT_STAY")),
        ({"disability_assessment": True}, ("DISABILITY_ASSESSMENT_REQUESTED",)),
        ({"liability_disputed": True}, ("LIABILITY_DISPUTED",)),
        ({"documents": (*DOCUMENTS, "photo", "prescription")}, ()),  # other documents are allowed
        ({"documents": ()}, ("DOCUMENTS_MISSING",)),
        ({"injury_type": "fracture"}, ()),  # the injury type is not a condition
        ({"medical_cost_fen": 300000, "inpatient_days": 1, "liability_disputed": True},
         ("INPATIENT_STAY", "COST_OVER_CAP", "LIABILITY_DISPUTED")),
    ],
)
def test_each_condition(change: dict[str, Any], reasons: tuple[str, ...]) -> None:
    evaluation = decide(replace(CLAIM, **change))
    assert evaluation.reasons == reasons
    assert evaluation.outcome == (STANDARD_REVIEW if reasons else FAST_TRACK)


@pytest.mark.parametrize("missing", DOCUMENTS)
def test_each_required_document_missing_in_turn(missing: str) -> None:
    documents = tuple(name for name in DOCUMENTS if name != missing)
    evaluation = decide(replace(CLAIM, documents=documents))
    assert (evaluation.outcome, evaluation.reasons) == (STANDARD_REVIEW, ("DOCUMENTS_MISSING",))
    assert check(evaluation, "documents_complete").inputs["missing"] == [missing]


CANCELLED = replace(ORDER, completed_at=None, status="cancelled")
GRACE = Policy(coverage_grace=timedelta(minutes=10))


@pytest.mark.parametrize(
    ("order", "incident_at", "policy", "is_covered"),
    [
        (ORDER, ACCEPTED, POLICY, True),  # the exact second of acceptance
        (ORDER, ACCEPTED - SECOND, POLICY, False),
        (ORDER, COMPLETED, POLICY, True),  # the exact second of completion
        (ORDER, COMPLETED + SECOND, POLICY, False),
        (ORDER, COMPLETED.astimezone(UTC), POLICY, True),  # the same instant in another zone
        (ORDER, COMPLETED + timedelta(minutes=10), GRACE, True),
        (ORDER, COMPLETED + timedelta(minutes=10) + SECOND, GRACE, False),
        (ORDER, ACCEPTED - SECOND, GRACE, False),  # the grace extends the end only
        (CANCELLED, ACCEPTED, POLICY, True),  # a cancelled order covers its acceptance
        (CANCELLED, ACCEPTED + SECOND, POLICY, False),
        (CANCELLED, ACCEPTED + timedelta(minutes=10), GRACE, True),
        (CANCELLED, ACCEPTED + timedelta(minutes=10) + SECOND, GRACE, False),
    ],
)
def test_coverage_window(order: OrderFacts, incident_at: datetime, policy: Policy, is_covered: bool) -> None:
    evaluation = decide(replace(CLAIM, incident_at=incident_at), order, policy=policy)
    assert evaluation.reasons == (() if is_covered else ("NOT_COVERED",))
    inputs = check(evaluation, "covered").inputs
    assert inputs["grace_seconds"] == int(policy.coverage_grace.total_seconds())
    assert inputs["completed_at"] == (None if order.completed_at is None else order.completed_at.isoformat())


@pytest.mark.parametrize(
    ("reported_at", "filed_on", "is_late"),
    [
        (datetime(2025, 9, 1, 23, 59, tzinfo=SHANGHAI), date(2025, 10, 1), False),  # day 30
        (datetime(2025, 9, 1, 23, 59, tzinfo=SHANGHAI), date(2025, 10, 2), True),  # day 31
        (datetime(2025, 9, 1, 16, 30, tzinfo=UTC), date(2025, 10, 2), False),  # 2 September 00:30 in Shanghai
        (datetime(2025, 9, 1, 15, 59, tzinfo=UTC), date(2025, 10, 2), True),  # 1 September 23:59 in Shanghai
        (datetime(2025, 9, 1, 12, 45, tzinfo=SHANGHAI), date(2025, 9, 1), False),  # filed the same day
    ],
)
def test_filing_deadline(reported_at: datetime, filed_on: date, is_late: bool) -> None:
    claim = replace(CLAIM, reported_at=reported_at, filed_on=filed_on, first_filed_on=filed_on,
                    position=(filed_on, "claims.csv", 2))
    evaluation = decide(claim, decided_on=filed_on)
    assert evaluation.reasons == (("FILED_LATE",) if is_late else ())
    assert check(evaluation, "filed_in_time").inputs["filing_deadline_days"] == 30


def test_an_amendment_after_the_deadline_does_not_make_a_claim_late() -> None:
    reported_at = datetime(2025, 9, 1, 12, 0, tzinfo=SHANGHAI)
    amended = replace(CLAIM, reported_at=reported_at, filed_on=date(2025, 10, 20), first_filed_on=date(2025, 9, 2),
                      position=(date(2025, 10, 20), "claims.csv", 2))
    evaluation = decide(amended, decided_on=date(2025, 10, 20))
    assert "FILED_LATE" not in evaluation.reasons
    assert check(evaluation, "filed_in_time").inputs["days"] == 1


# --------------------------------------------------------------------------- claimant, order, duplicates


def test_a_claimant_who_is_not_the_orders_worker_is_rejected_with_every_other_reason() -> None:
    claim = replace(CLAIM, worker_ref=OTHER_WORKER, medical_cost_fen=300000, documents=DOCUMENTS[:4])
    evaluation = decide(claim)
    assert evaluation.outcome == REJECTED
    assert evaluation.reasons == ("CLAIMANT_NOT_ORDER_WORKER", "COST_OVER_CAP", "DOCUMENTS_MISSING")
    assert evaluation.amount_fen is None
    assert decide(replace(CLAIM, worker_ref=OTHER_WORKER)).reasons == ("CLAIMANT_NOT_ORDER_WORKER",)


@pytest.mark.parametrize(
    ("max_days", "days_after_first_filing", "outcome", "reason"),
    [
        (7, 0, PENDING, "ORDER_NOT_LOADED"),
        (7, 6, PENDING, "ORDER_NOT_LOADED"),
        (7, 7, STANDARD_REVIEW, "NO_ORDER_RECORD"),
        (7, 30, STANDARD_REVIEW, "NO_ORDER_RECORD"),
        (10, 9, PENDING, "ORDER_NOT_LOADED"),
        (10, 10, STANDARD_REVIEW, "NO_ORDER_RECORD"),
    ],
)
def test_without_its_order_a_claim_waits_then_goes_to_review(
    max_days: int, days_after_first_filing: int, outcome: str, reason: str
) -> None:
    first = date(2025, 9, 1)
    claim = replace(CLAIM, first_filed_on=first, filed_on=first + timedelta(days=3))  # an amendment does not restart
    evaluation = decide(claim, None, decided_on=first + timedelta(days=days_after_first_filing),
                        policy=Policy(pending_max_days=max_days))
    assert (evaluation.outcome, evaluation.reasons, evaluation.amount_fen) == (outcome, (reason,), None)
    assert evaluation.rule_version == "hainan-small-injury@2025-01"  # the incident province, for deadlines
    assert [c.name for c in evaluation.checks] == ["order_loaded"]
    assert check(evaluation, "order_loaded").inputs["days_waited"] == days_after_first_filing


def test_without_its_order_the_incident_province_selects_the_rule_set() -> None:
    claim, _ = in_province(BEIJING)
    assert decide(claim, None).rule_version == "beijing-small-injury@2025-01"


def test_the_orders_province_selects_the_rule_set_not_the_incident_province() -> None:
    claim = replace(CLAIM, incident_province_code=BEIJING, incident_city_code="110100", medical_cost_fen=290000)
    evaluation = decide(claim, ORDER)  # insured in Hainan: its rules apply, and the injury was not in Hainan
    assert (evaluation.rule_version, evaluation.reasons) == ("hainan-small-injury@2025-01",
                                                             ("INCIDENT_OUTSIDE_PROVINCE",))
    beijing_claim, beijing_order = in_province(BEIJING)
    insured_in_beijing = decide(replace(beijing_claim, medical_cost_fen=290000), beijing_order)
    assert (insured_in_beijing.outcome, insured_in_beijing.rule_version) == (FAST_TRACK, "beijing-small-injury@2025-01")


def test_an_order_that_is_not_the_claims_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="order"):
        decide(CLAIM, replace(ORDER, order_id="DD-other"))


def test_policy_limits() -> None:
    with pytest.raises(ValueError, match=">= 7"):
        Policy(pending_max_days=6)
    with pytest.raises(ValueError, match="coverage_grace"):
        Policy(coverage_grace=timedelta(seconds=-1))
    assert Policy().coverage_grace == timedelta(0) and Policy().pending_max_days == 7


def test_facts_need_timezone_aware_times() -> None:
    with pytest.raises(ValueError, match="incident_at"):
        replace(CLAIM, incident_at=datetime(2025, 9, 1, 12, 20))
    with pytest.raises(ValueError, match="completed_at"):
        replace(ORDER, completed_at=datetime(2025, 9, 1, 12, 40))


SECOND_CLAIM = replace(CLAIM, claim_id="CL-0002", position=(FILED, "z-late.csv", 2))


@pytest.mark.parametrize("claims", [[CLAIM, SECOND_CLAIM], [SECOND_CLAIM, CLAIM]])
def test_of_a_duplicate_pair_exactly_one_is_fast_tracked(claims: list[ClaimFacts]) -> None:
    duplicates = find_duplicates(claims)
    assert duplicates == {("didi", "CL-0002"): "CL-0001"}
    evaluations = {c.claim_id: decide(c, duplicate_of=duplicates.get(c.key)) for c in claims}
    assert [cid for cid, e in sorted(evaluations.items()) if e.outcome == FAST_TRACK] == ["CL-0001"]
    assert evaluations["CL-0002"].reasons == ("DUPLICATE_CLAIM",)
    assert check(evaluations["CL-0002"], "not_duplicate").inputs == {"duplicate_of": "CL-0001"}


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (replace(SECOND_CLAIM, incident_at=CLAIM.incident_at + SECOND), {}),  # another incident
        (replace(SECOND_CLAIM, worker_ref=OTHER_WORKER), {}),  # another claimant
        (replace(SECOND_CLAIM, order_id="DD-other"), {}),
        (replace(SECOND_CLAIM, incident_at=CLAIM.incident_at.astimezone(UTC)), {("didi", "CL-0002"): "CL-0001"}),
        # earlier in the contract's order: the second claim id comes first
        (replace(SECOND_CLAIM, position=(FILED, "claims.csv", 1)), {("didi", "CL-0001"): "CL-0002"}),
        (replace(SECOND_CLAIM, position=(date(2025, 9, 1), "z.csv", 9), filed_on=date(2025, 9, 1),
                 first_filed_on=date(2025, 9, 1)), {("didi", "CL-0001"): "CL-0002"}),
        # same position (cannot happen in one platform's files): the claim id decides
        (replace(SECOND_CLAIM, position=CLAIM.position), {("didi", "CL-0002"): "CL-0001"}),
        # an amendment of the first claim filed later keeps its place
        (replace(SECOND_CLAIM, filed_on=date(2025, 9, 3), first_filed_on=date(2025, 9, 3),
                 position=(date(2025, 9, 3), "a.csv", 2)), {("didi", "CL-0002"): "CL-0001"}),
    ],
)
def test_what_is_a_duplicate(second: ClaimFacts, expected: dict[tuple[str, str], str]) -> None:
    assert find_duplicates([CLAIM, second]) == expected
    assert find_duplicates([second, CLAIM]) == expected


def test_duplicates_map_to_the_first_of_their_group_and_amendments_keep_their_place() -> None:
    amended_first = replace(CLAIM, filed_on=date(2025, 9, 5), position=(date(2025, 9, 5), "a.csv", 2))
    second = replace(SECOND_CLAIM, filed_on=date(2025, 9, 3), first_filed_on=date(2025, 9, 3),
                     position=(date(2025, 9, 3), "a.csv", 2))
    third = replace(CLAIM, claim_id="CL-0003", filed_on=date(2025, 9, 4), first_filed_on=date(2025, 9, 4),
                    position=(date(2025, 9, 4), "claims.csv", 7))
    assert find_duplicates([third, second, amended_first]) == {
        ("didi", "CL-0002"): "CL-0001", ("didi", "CL-0003"): "CL-0001",
    }
    with pytest.raises(ValueError, match="twice"):
        find_duplicates([CLAIM, CLAIM])


# --------------------------------------------------------------------------- rule sets as data


def packaged_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "rule_sets"
    shutil.copytree(RULE_SETS_DIR, folder)
    return folder


def rule_document(**changes: Any) -> dict[str, Any]:
    document = json.loads((RULE_SETS_DIR / "hainan-small-injury-2025-01.json").read_text("utf-8"))
    document.update(changes)
    return document


def write(folder: Path, name: str, document: dict[str, Any] | str) -> Path:
    path = folder / name
    path.write_text(document if isinstance(document, str) else json.dumps(document, ensure_ascii=False), "utf-8")
    return path


def test_a_new_version_changes_decisions_for_claims_filed_from_its_date_only(tmp_path: Path) -> None:
    folder = packaged_copy(tmp_path)
    fast_track = {**rule_document()["fast_track"], "cost_cap_fen": 500000, "automatic_payment_limit_fen": 500000}
    write(folder, "hainan-small-injury-2026-01.json",
          rule_document(version="2026-01", effective_from="2026-01-01", fast_track=fast_track))
    book = load_rule_sets(folder)
    accepted = datetime(2025, 12, 30, 9, 0, tzinfo=SHANGHAI)
    order = replace(ORDER, accepted_at=accepted, completed_at=accepted + timedelta(hours=1))
    base = replace(CLAIM, incident_at=accepted + timedelta(minutes=5), reported_at=accepted + timedelta(minutes=30),
                   medical_cost_fen=400000)
    decisions = {}
    for filed_on in (date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 2)):
        claim = replace(base, filed_on=filed_on, first_filed_on=filed_on, position=(filed_on, "c.csv", 2))
        evaluation = decide(claim, order, book=book, decided_on=filed_on)
        decisions[filed_on] = (evaluation.outcome, evaluation.rule_version)
        assert decide(claim, order, decided_on=filed_on).outcome == STANDARD_REVIEW  # the packaged book
    assert decisions == {
        date(2025, 12, 31): (STANDARD_REVIEW, "hainan-small-injury@2025-01"),
        date(2026, 1, 1): (FAST_TRACK, "hainan-small-injury@2026-01"),
        date(2026, 1, 2): (FAST_TRACK, "hainan-small-injury@2026-01"),
    }


def test_a_new_province_is_added_with_a_data_file_alone(tmp_path: Path) -> None:
    folder = packaged_copy(tmp_path)
    claim, order = in_province(SHANGHAI_PROVINCE)
    claim = replace(claim, medical_cost_fen=450000)
    before = decide(claim, order, book=load_rule_sets(folder))
    assert (before.rule_version, before.reasons) == ("national-default@2022-07",
                                                     ("COST_OVER_CAP", "OVER_AUTOMATIC_LIMIT"))
    fast_track = {**rule_document()["fast_track"], "cost_cap_fen": None, "automatic_payment_limit_fen": 1_000_000}
    write(folder, "shanghai-small-injury-2025-06.json", rule_document(
        rule_set="shanghai-small-injury", version="2025-06", province_code=SHANGHAI_PROVINCE,
        effective_from="2025-06-01", source="test", fast_track=fast_track))
    after = decide(claim, order, book=load_rule_sets(folder))
    assert (after.outcome, after.rule_version, after.amount_fen) == (FAST_TRACK, "shanghai-small-injury@2025-06", 450000)


def test_the_folder_can_be_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "only-national"
    folder.mkdir()
    shutil.copy(RULE_SETS_DIR / "national-default-2022-07.json", folder)
    (folder / "README.txt").write_text("not a rule set", "utf-8")  # only *.json files are rule sets
    monkeypatch.setenv("CLAIMS_RULE_SETS_DIR", str(folder))
    assert [r.rule_version for r in load_rule_sets().rule_sets] == ["national-default@2022-07"]
    assert load_rule_sets(RULE_SETS_DIR) == BOOK  # an explicit folder wins


def _fast_track(**changes: Any) -> dict[str, Any]:
    return {**rule_document()["fast_track"], **changes}


def _deadlines(**changes: Any) -> dict[str, Any]:
    return {**rule_document()["deadlines"], **changes}


def _without(key: str) -> dict[str, Any]:
    document = rule_document()
    del document[key]
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (rule_document(extra=1), "unknown key(s) in the file: extra"),
        (rule_document(fast_track=_fast_track(cost_cap=1)), "unknown key(s) in fast_track: cost_cap"),
        (rule_document(deadlines=_deadlines(pay_days=5)), "unknown key(s) in deadlines: pay_days"),
        (_without("source"), "missing key(s) in the file: source"),
        (rule_document(effective_from="2025-1-1"), "effective_from must be a date YYYY-MM-DD"),
        (rule_document(effective_from="20250101"), "effective_from must be a date YYYY-MM-DD"),
        (rule_document(effective_from="2025-02-30"), "effective_from is not a calendar date"),
        (rule_document(effective_from=None), "effective_from must be a date YYYY-MM-DD"),
        (rule_document(province_code="46000"), "province_code must be a 6-digit province code"),
        (rule_document(province_code="460100"), "province_code must be a 6-digit province code"),
        (rule_document(rule_set="Hainan Small"), "rule_set 'Hainan Small' does not match"),
        (rule_document(version=""), "version must be a non-empty string"),
        (rule_document(fast_track=_fast_track(cost_cap_fen="300000")), "fast_track.cost_cap_fen (an integer or null)"),
        (rule_document(fast_track=_fast_track(cost_cap_fen=0)), "fast_track.cost_cap_fen (an integer or null) must be >= 1"),
        (rule_document(fast_track=_fast_track(cost_cap_fen=3000.5)), "fast_track.cost_cap_fen"),
        (rule_document(fast_track=_fast_track(max_inpatient_days=-1)), "max_inpatient_days must be >= 0"),
        (rule_document(fast_track=_fast_track(max_inpatient_days=True)), "max_inpatient_days must be an integer"),
        (rule_document(fast_track=_fast_track(undisputed="true")), "fast_track.undisputed must be true or false"),
        (rule_document(fast_track=_fast_track(allowed_treatments=["outpatient", "clinic"])), "unknown value(s) clinic"),
        (rule_document(fast_track=_fast_track(allowed_treatments=[])), "allowed_treatments must be a non-empty list"),
        (rule_document(fast_track=_fast_track(required_documents=["consent", "consent"])), "lists a value twice"),
        (rule_document(fast_track=_fast_track(required_documents=["Fee Receipts"])), "does not match"),
        (rule_document(fast_track=_fast_track(filing_deadline_days=None)), "filing_deadline_days must be an integer"),
        (rule_document(deadlines=_deadlines(confirm_working_days_fast_track=0)), "must be >= 1"),
        (rule_document(deadlines="2 days"), "deadlines must be a JSON object"),
        (rule_document(notes=["a"]), "notes must be a string"),
        ("[1, 2]", "the file must be a JSON object"),
        ("{\"rule_set\": ", "not valid UTF-8 JSON"),
        ('{"version": "a", "version": "b"}', "duplicate key 'version'"),
        (json.dumps(rule_document()).replace("300000", "NaN"), "NaN is not allowed"),
    ],
)
def test_bad_rule_files_are_rejected_naming_the_file(tmp_path: Path, document: Any, message: str) -> None:
    folder = packaged_copy(tmp_path)
    path = write(folder, "broken.json", document)
    with pytest.raises(RuleSetError) as raised:
        load_rule_sets(folder)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_a_file_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    folder = packaged_copy(tmp_path)
    (folder / "gbk.json").write_bytes(json.dumps(rule_document(source="海南"), ensure_ascii=False).encode("gb18030"))
    with pytest.raises(RuleSetError, match="gbk.json: not valid UTF-8 JSON"):
        load_rule_sets(folder)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (rule_document(effective_from="2026-01-01"),  # same name and version as the packaged file
         "rule set 'hainan-small-injury' version '2025-01' is already defined in"),
        (rule_document(version="2025-02"), "province 460000 already has a rule set effective from 2025-01-01 in"),
        (rule_document(version="2026-01", effective_from="2026-01-01", province_code=BEIJING),
         "rule set 'hainan-small-injury' is for province 460000"),
    ],
)
def test_conflicting_rule_files_are_rejected_naming_both(tmp_path: Path, document: Any, message: str) -> None:
    folder = packaged_copy(tmp_path)
    path = write(folder, "zz-conflict.json", document)
    with pytest.raises(RuleSetError) as raised:
        load_rule_sets(folder)
    assert message in str(raised.value)
    assert str(path) in str(raised.value) and "hainan-small-injury-2025-01.json" in str(raised.value)


def test_a_folder_without_a_national_default_is_rejected(tmp_path: Path) -> None:
    folder = packaged_copy(tmp_path)
    (folder / "national-default-2022-07.json").unlink()
    with pytest.raises(RuleSetError, match="no national default"):
        load_rule_sets(folder)
    with pytest.raises(RuleSetError, match="does not exist"):
        load_rule_sets(tmp_path / "missing")


def test_claims_never_imports_airflow() -> None:
    code = ("import sys, claims.adjudication.rules; "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'airflow'], 'airflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- properties

BASE = datetime(2025, 9, 1, 12, 0, tzinfo=SHANGHAI)
WORKERS = ("pseudo-aaaaaa", "pseudo-bbbbbb")
PROVINCES = (HAINAN, BEIJING, SHANGHAI_PROVINCE)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ClaimFacts, OrderFacts | None, date, Policy, str | None]:
    cancelled = draw(st.booleans())
    completed = None if cancelled else BASE + timedelta(seconds=draw(st.integers(0, 3600)))
    province = draw(st.sampled_from(PROVINCES))
    order = OrderFacts(
        "didi", "DD-1", draw(st.sampled_from(WORKERS)), province, province[:2] + "0100", "ride_hailing",
        BASE, completed, "cancelled" if cancelled else "completed",
    )
    first_filed_on = date(2025, 9, 1) + timedelta(days=draw(st.integers(0, 40)))
    filed_on = first_filed_on + timedelta(days=draw(st.integers(0, 3)))
    claim = ClaimFacts(
        platform_code="didi", claim_id="CL-1", order_id="DD-1", worker_ref=draw(st.sampled_from(WORKERS)),
        incident_at=BASE + timedelta(seconds=draw(st.integers(-60, 4000))),
        reported_at=BASE + timedelta(seconds=draw(st.integers(0, 2 * 86400))),
        filed_on=filed_on, first_filed_on=first_filed_on, position=(filed_on, "c.csv", 2),
        incident_province_code=draw(st.sampled_from(PROVINCES)), incident_city_code="110100",
        injury_type="sprain", treatment=draw(st.sampled_from(("outpatient", "emergency", "inpatient"))),
        inpatient_days=draw(st.integers(0, 2)),
        medical_cost_fen=draw(st.sampled_from((0, 299999, 300000, 300001, 10**8))),
        disability_assessment=draw(st.booleans()), liability_disputed=draw(st.booleans()),
        documents=tuple(draw(st.lists(st.sampled_from((*DOCUMENTS, "photo")), unique=True))),
    )
    policy = Policy(coverage_grace=timedelta(seconds=draw(st.sampled_from((0, 60, 3600)))),
                    pending_max_days=draw(st.integers(7, 10)))
    decided_on = first_filed_on + timedelta(days=draw(st.integers(0, 12)))
    return claim, draw(st.none() | st.just(order)), decided_on, policy, draw(st.none() | st.just("CL-0"))


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_evaluation_is_deterministic_and_explains_without_personal_data(scenario: Any) -> None:
    claim, order, decided_on, policy, duplicate_of = scenario
    first = evaluate(claim, order, BOOK, decided_on, policy, duplicate_of)
    assert evaluate(claim, order, BOOK, decided_on, policy, duplicate_of) == first
    explained = json.dumps(first.as_dict())  # JSON-safe
    assert claim.worker_ref not in explained and "pseudo-" not in explained


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_fast_track_iff_every_check_passed_with_its_order_and_worker(scenario: Any) -> None:
    claim, order, decided_on, policy, duplicate_of = scenario
    evaluation = evaluate(claim, order, BOOK, decided_on, policy, duplicate_of)
    all_passed = all(c.passed for c in evaluation.checks)
    worker_matches = order is not None and order.worker_ref == claim.worker_ref
    assert (evaluation.outcome == FAST_TRACK) == (all_passed and order is not None and worker_matches)
    assert (evaluation.outcome == REJECTED) == (order is not None and not worker_matches)
    assert evaluation.reasons == tuple(c.reason_code for c in evaluation.checks if not c.passed)
    assert all((c.reason_code is None) == c.passed for c in evaluation.checks)
    assert (evaluation.amount_fen is not None) == (evaluation.outcome == FAST_TRACK)
    if evaluation.outcome == FAST_TRACK:
        assert evaluation.amount_fen == claim.medical_cost_fen
    else:
        assert evaluation.reasons


@st.composite
def claim_sets(draw: st.DrawFn) -> list[ClaimFacts]:
    count = draw(st.integers(0, 8))
    claims = []
    for number in range(count):
        day = date(2025, 9, 1) + timedelta(days=draw(st.integers(0, 2)))
        claims.append(replace(
            CLAIM, claim_id=f"CL-{draw(st.integers(0, 3))}{number}",
            platform_code=draw(st.sampled_from(("didi", "caocao"))), worker_ref=draw(st.sampled_from(WORKERS)),
            order_id=draw(st.sampled_from(("DD-1", "DD-2"))),
            incident_at=BASE + timedelta(seconds=draw(st.integers(0, 1))),
            filed_on=day, first_filed_on=day - timedelta(days=draw(st.integers(0, 1))),
            position=(day, draw(st.sampled_from(("a.csv", "b.csv"))), draw(st.integers(2, 3))),
        ))
    return claims


@settings(max_examples=300, deadline=None)
@given(claim_sets(), st.randoms(use_true_random=False))
def test_find_duplicates_does_not_depend_on_input_order(claims: list[ClaimFacts], random: Any) -> None:
    duplicates = find_duplicates(claims)
    shuffled = list(claims)
    random.shuffle(shuffled)
    assert find_duplicates(shuffled) == duplicates
    assert find_duplicates(reversed(claims)) == duplicates
    by_key = {c.key: c for c in claims}
    firsts = {c.key for c in claims} - set(duplicates)
    for key, first_id in duplicates.items():
        claim = by_key[key]
        first = by_key[(claim.platform_code, first_id)]
        assert first.key in firsts  # every duplicate points at its group's first claim
        assert (first.worker_ref, first.order_id, first.incident_at) == (claim.worker_ref, claim.order_id,
                                                                         claim.incident_at)
    groups = {(c.worker_ref, c.platform_code, c.order_id, c.incident_at) for c in claims}
    assert len(firsts) == len(groups)  # exactly one claim per group can be fast-tracked


# -- the authority limit of automatic payment and the incident's province (issue 12, items 5 and 6) --


@pytest.mark.parametrize("cost, outcome", [(300000, FAST_TRACK), (300001, STANDARD_REVIEW),
                                           (10**15, STANDARD_REVIEW)])
def test_beijing_without_a_cost_cap_still_pays_automatically_only_up_to_the_authority_limit(cost: int,
                                                                                          outcome: str) -> None:
    claim, order = in_province(BEIJING)
    evaluation = decide(replace(claim, medical_cost_fen=cost), order)
    assert BOOK.select(BEIJING, FILED).fast_track.cost_cap_fen is None  # no published cap
    assert evaluation.outcome == outcome
    assert evaluation.reasons == (() if outcome == FAST_TRACK else ("OVER_AUTOMATIC_LIMIT",))
    assert evaluation.amount_fen == (cost if outcome == FAST_TRACK else None)


def test_every_rule_set_carries_an_authority_limit_an_administrator_may_change(tmp_path: Path) -> None:
    assert {r.fast_track.automatic_payment_limit_fen for r in BOOK.rule_sets} == {300000}
    folder = packaged_copy(tmp_path)
    document = json.loads((folder / "beijing-small-injury-2025-01.json").read_text("utf-8"))
    document["fast_track"]["automatic_payment_limit_fen"] = 500000
    write(folder, "beijing-small-injury-2025-01.json", document)
    claim, order = in_province(BEIJING)
    assert decide(replace(claim, medical_cost_fen=450000), order, book=load_rule_sets(folder)).outcome == FAST_TRACK
    del document["fast_track"]["automatic_payment_limit_fen"]
    write(folder, "beijing-small-injury-2025-01.json", document)
    with pytest.raises(RuleSetError, match="automatic_payment_limit_fen"):
        load_rule_sets(folder)


def test_beijing_fast_track_is_for_injuries_in_beijing() -> None:
    """A Beijing-insured fracture... a sprain treated in Hebei goes to standard review."""
    claim, order = in_province(BEIJING)
    elsewhere = replace(claim, incident_province_code="130000", incident_city_code="130100")
    evaluation = decide(elsewhere, order)
    assert (evaluation.outcome, evaluation.reasons) == (STANDARD_REVIEW, ("INCIDENT_OUTSIDE_PROVINCE",))
    assert evaluation.rule_version == "beijing-small-injury@2025-01"
    assert decide(claim, order).outcome == FAST_TRACK
