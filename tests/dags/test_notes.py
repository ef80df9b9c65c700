"""A run's note sums up what its stage did, for an administrator reading the runs
list (issue 15: what arrived, what was paid, what failed and why)."""

from __future__ import annotations

from claims_dags._notes import note_text, outcome_lines


def test_an_ingestion_note_names_the_expected_partitions_missing() -> None:
    text = note_text("2025-09-30", {"expected_missing": ["orders/platform=didi/date=2025-09-30/"],
                                    "not_arrived": ["orders/platform=didi/date=2025-09-30/",
                                                    "determinations/date=2025-09-30/"]}, "claims run-day")
    assert text.splitlines() == [
        "Business day 2025-09-30 (claims run-day)",
        "NOT ARRIVED, expected (1): orders/platform=didi/date=2025-09-30/",
        "Not arrived, optional (1): determinations/date=2025-09-30/",
    ]


def test_the_payouts_note_says_what_was_paid_released_and_held() -> None:
    released = {"items": 1234, "total_fen": 123456789, "batches": 3, "released": True, "held": 0}
    assert outcome_lines("payouts", released) == ["Paid: 1,234 item(s), 1,234,567.89 yuan in 3 batch(es), released"]
    waiting = dict(released, released=False, held=2, total_fen=5)
    assert outcome_lines("payouts", waiting) == [
        "Paid: 1,234 item(s), 0.05 yuan in 3 batch(es), AWAITING RELEASE (claims payouts approve); "
        "HELD out of the files: 2 (payout_holds.csv)"]
    assert outcome_lines("payouts", None) == []  # the task failed: no outcome, the FAILED line says so


def test_the_adjudicate_and_reports_notes() -> None:
    assert outcome_lines("adjudicate", {"decided": {"standard_review": 7, "fast_track": 2500},
                                        "determinations": {"approved": 3}}) == [
        "Decided: fast_track 2,500, standard_review 7; determinations applied: approved 3"]
    assert outcome_lines("reports", {"payouts_tie_out": False, "differing_provinces": ["110000", "460000"],
                                     "premium_lines_differing": 4}) == [
        "PAYOUTS DO NOT TIE OUT in 110000, 460000 (payout_exceptions.csv); premium lines differing: 4"]


def test_failed_tasks_are_named() -> None:
    text = note_text("2025-09-30", None, "", ["Decided: nothing"], ["adjudicate"])
    assert text.splitlines()[1:] == ["Decided: nothing", "FAILED: adjudicate (the task logs say why)"]
