"""The registry of reason codes: one place, stable once published.

Every rejection and every decision carries one of these codes and a message a
platform engineer can act on. ``docs/reason-codes.md`` documents them; a test
keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    scope: str  # "file": the whole file is rejected (line 0); "row": one row
    message: str


_REASONS = [
    # Whole-file rejections (line 0).
    Reason("DUPLICATE_FILE", "file", "the same bytes were already received as another file; nothing loaded"),
    Reason("UNDECODABLE", "file", "the file is neither valid UTF-8 nor valid GB18030"),
    Reason("UNREADABLE", "file", "the file is not the format its name says, or is corrupt"),
    Reason("UNSUPPORTED_FORMAT", "file", "the file name has no supported extension (.csv, .csv.gz, .jsonl, .jsonl.gz, .parquet)"),
    Reason("MISSING_HEADER", "file", "the file has no header row"),
    Reason("MISSING_COLUMN", "file", "a required column is missing from the header"),
    Reason("DUPLICATE_COLUMN", "file", "a column name appears twice in the header (or the Parquet schema)"),
    Reason("LINE_TOO_LONG", "file", "a CSV line is longer than the line limit (CLAIMS_MAX_LINE_BYTES, 1 MiB by default): CSV rows cannot be cut apart safely, so the file is rejected"),
    Reason("UNSUPPORTED_COLUMN_TYPE", "file", "a Parquet column the contract names has a type with no text form (struct, list, map, union)"),
    Reason("ROW_GROUP_TOO_LARGE", "file", "a Parquet row group holds more than 512 MiB (uncompressed) in the contract's columns: write smaller row groups"),
    # Objects of a complete partition that are not read (reported in quality/, not rejections.csv).
    Reason("HIDDEN_FILE", "skip", "the object's name starts with '.': hidden files are not read"),
    Reason("IN_SUBFOLDER", "skip", "the object is in a sub-folder of the partition: only the partition's own files are read"),
    # Row rejections.
    Reason("MALFORMED_ROW", "row", "the row cannot be parsed (wrong number of fields, a truncated line or invalid JSON)"),
    Reason("RECORD_TOO_LARGE", "row", "the JSONL line, or the Parquet row as text, is longer than the line limit (CLAIMS_MAX_LINE_BYTES, 1 MiB by default)"),
    Reason("NOT_TEXT", "row", "a JSON object or array where a text, number or boolean value is expected"),
    Reason("MISSING_VALUE", "row", "a required field is empty"),
    Reason("INVALID_IDENTIFIER", "row", "identifiers are 1-64 characters of A-Z, a-z, 0-9, '_' and '-'"),
    Reason("UNKNOWN_PLATFORM", "row", "the platform code is not registered"),
    Reason("PLATFORM_MISMATCH", "row", "the platform code differs from the partition's platform"),
    Reason("INDUSTRY_MISMATCH", "row", "the industry is not the platform's registered industry"),
    Reason("UNKNOWN_CODE", "row", "the value is not one of the codes the contract allows for this field"),
    Reason("INVALID_RESIDENT_ID", "row", "not an 18-character resident ID (GB 11643) with a valid province, birth date and MOD 11-2 check character"),
    Reason("INVALID_AREA_CODE", "row", "not a known 6-digit GB/T 2260 code of the required level"),
    Reason("NOT_PILOT_PROVINCE", "row", "the province is not in the scheme on that date"),
    Reason("CITY_NOT_IN_PROVINCE", "row", "the prefecture code does not belong to the row's province"),
    Reason("INVALID_TIMESTAMP", "row", "not an ISO 8601 date-time"),
    Reason("OUTSIDE_PARTITION", "row", "the time is not inside the partition's date (Asia/Shanghai)"),
    Reason("TIME_ORDER", "row", "the times of the row are out of order"),
    Reason("DURATION_TOO_LONG", "row", "an order is completed at most 24 hours after it was accepted"),
    Reason("STATUS_MISMATCH", "row", "completed orders have completed_at; cancelled orders have it empty"),
    Reason("INVALID_INTEGER", "row", "integers are plain digits (no sign, decimal point or spaces)"),
    Reason("INVALID_BOOLEAN", "row", "booleans are 'true' or 'false'"),
    Reason("NAME_FORMULA_PREFIX", "row", "a name starts with a character a spreadsheet takes for a formula (=, +, -, @, tab or carriage return)"),
    Reason("NAME_UNSAFE_CHARACTER", "row", "a name holds a control character or a bidirectional-text control (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069)"),
    Reason("NAME_TOO_LONG", "row", "a name is at most 140 characters"),
    Reason("INVALID_BANK_ACCOUNT", "row", "a bank card number is 16-19 digits with a valid Luhn check digit"),
    Reason("INVALID_BANK_CODE", "row", "a bank branch code is 12 digits"),
    Reason("DUPLICATE_IN_FILE", "row", "the key was already used by an earlier row of the same file"),
    Reason("DUPLICATE_KEY", "row", "a different row was already loaded for this key"),
    Reason("ORDER_ID_REUSED", "row", "the platform already used this order id for an order accepted on another date (order ids are unique per platform)"),
    # Decisions (decisions.csv); a decision records every reason that applied.
    Reason("ORDER_NOT_LOADED", "decision", "the claim's order has not been loaded yet: pending, decided again on later runs"),
    Reason("NO_ORDER_RECORD", "decision", "the claim's order was still not loaded after the waiting period: standard review"),
    Reason("CLAIMANT_NOT_ORDER_WORKER", "decision", "the claimant is not the worker of the order: rejected"),
    Reason("NOT_COVERED", "decision", "the injury did not happen inside the order's coverage window"),
    Reason("TREATMENT_NOT_ALLOWED", "decision", "the treatment is not one the fast track allows"),
    Reason("INPATIENT_STAY", "decision", "a hospital stay is not a small injury"),
    Reason("COST_OVER_CAP", "decision", "the medical cost is not under the rule set's cap"),
    Reason("DISABILITY_ASSESSMENT_REQUESTED", "decision", "a work-capacity assessment is requested"),
    Reason("LIABILITY_DISPUTED", "decision", "liability is disputed"),
    Reason("DOCUMENTS_MISSING", "decision", "a document the rule set requires is missing"),
    Reason("DUPLICATE_CLAIM", "decision", "another claim of the same worker for the same order and incident was filed first"),
    Reason("FILED_LATE", "decision", "the claim was filed after the rule set's filing deadline"),
    Reason("OVER_AUTOMATIC_LIMIT", "decision", "the amount is above the rule set's authority limit of automatic payment: standard review"),
    Reason("INCIDENT_OUTSIDE_PROVINCE", "decision", "the rule set's fast track is for injuries in its own province; this one happened elsewhere"),
    Reason("AMENDED_AFTER_PAYMENT", "decision", "the claim was amended after a payout: anything but a payee change goes to standard review"),
    Reason("CALENDAR_ESTIMATED", "decision", "a deadline falls in a year without an official working-day schedule: estimated on weekdays"),
    Reason("APPROVED_BY_DETERMINATION", "decision", "approved by the HRSS office after standard review: payable"),
    Reason("REJECTED_BY_DETERMINATION", "decision", "rejected by the HRSS office after standard review"),
    Reason("DETERMINATION_UNKNOWN_CLAIM", "determination", "no claim with this id was filed by this platform"),
    Reason("DETERMINATION_NOT_UNDER_REVIEW", "determination", "the claim is not awaiting standard review"),
    Reason("RETURN_SETTLED", "return", "the bank settled the payment: the claim's item is closed"),
    Reason("RETURN_FAILED_REVERSED", "return", "the payment failed: reversed; paid again once the payee account is amended"),
    Reason("RETURN_UNKNOWN_ITEM", "return", "no payout item has this end-to-end id"),
    Reason("RETURN_BATCH_MISMATCH", "return", "the end-to-end id belongs to another batch than the one named"),
    Reason("RETURN_ALREADY_FINAL", "return", "the item was already settled or returned: this answer changes nothing"),
    Reason("DETERMINATION_SUPERSEDED", "determination", "a later determination of the same day was applied instead"),
    # Payout exceptions: an owed item held out of the day's files (the rest of the day is paid).
    Reason("PAYOUT_OVER_ITEM_CEILING", "payout", "the item is above the per-item ceiling (CLAIMS_MAX_ITEM_FEN): held for a person to release"),
    Reason("PAYOUT_ORDER_UNKNOWN", "payout", "the claim's order is not loaded, so its paying province (the order's) is unknown: held"),
    Reason("PAYOUT_NO_PAYING_AGENCY", "payout", "no paying agency is in force for the paying province on the day: held"),
    Reason("PAYOUT_PAYEE_UNPAYABLE", "payout", "the payee's name or account cannot be written to a bank file: held"),
]

REASONS: dict[str, Reason] = {reason.code: reason for reason in _REASONS}


def message(code: str) -> str:
    return REASONS[code].message
