"""What a rejection line may say about the value it rejects (issue 13, item 7).

A value in the wrong column can be anyone's personal data: an account number in
``payee_bank_code``, a resident ID in ``incident_city_code``, a name in
``injury_type``. So a message quotes a value only when it matches its field's own
short code alphabet (what a valid value of that field is made of, and short);
anything else is described (its length and character classes), never quoted. The
record id (order or claim id) is shown only when it is a valid identifier that does
not have the shape of a resident ID or a bank card number.
"""

from __future__ import annotations

import re
import unicodedata

from claims.ingest import checks

_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_AREA = re.compile(r"[0-9]{1,6}")
_BANK_CODE = re.compile(r"[0-9]{1,12}")
_TIMESTAMP = re.compile(r"[0-9TZ:. /+-]{1,35}")
_INTEGER = re.compile(r"[0-9. +-]{1,20}")
_BOOLEAN = re.compile(r"[A-Za-z]{1,8}")
_MONTH = re.compile(r"[0-9/-]{1,10}")
#: No quoted value holds a run of more digits than this (a phone, an account, an ID).
_DIGIT_RUN = re.compile(r"[0-9]{9,}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9Xx]")
_CARD = re.compile(r"[0-9]{16,19}")

#: Field -> the alphabet its values may be quoted in. Fields not listed (names, IDs,
#: accounts, identifiers, free text) are never quoted.
QUOTABLE: dict[str, re.Pattern[str]] = {
    **{name: _CODE for name in ("platform_code", "industry", "status", "injury_type", "treatment", "decision")},
    **{name: _AREA for name in ("province_code", "city_code", "incident_province_code", "incident_city_code")},
    "payee_bank_code": _BANK_CODE,
    **{name: _TIMESTAMP for name in ("accepted_at", "completed_at", "incident_at", "reported_at", "decided_at",
                                     "processed_at")},
    **{name: _INTEGER for name in ("premium_fen", "inpatient_days", "medical_cost_fen", "approved_amount_fen",
                                   "order_count")},
    **{name: _BOOLEAN for name in ("disability_assessment", "liability_disputed")},
    "month": _MONTH,
}


def quotable(field_name: str, value: str) -> bool:
    pattern = QUOTABLE.get(field_name)
    return (pattern is not None and field_name not in checks.PERSONAL_FIELDS
            and pattern.fullmatch(value) is not None and _DIGIT_RUN.search(value) is None)


_CLASSES = ("digits", "Latin letters", "CJK characters", "spaces", "punctuation or symbols", "control characters",
            "other characters")


def _class_of(char: str) -> str:
    if char.isascii() and char.isdigit():
        return "digits"
    if char.isascii() and char.isalpha():
        return "Latin letters"
    if unicodedata.category(char) in ("Cc", "Cf"):
        return "control characters"
    if char.isspace():
        return "spaces"
    if char.isascii():
        return "punctuation or symbols"
    if unicodedata.name(char, "").startswith("CJK"):
        return "CJK characters"
    return "other characters"


def describe(value: str) -> str:
    """A value's length and character classes, never its characters."""
    present = {_class_of(char) for char in value}
    classes = ", ".join(label for label in _CLASSES if label in present)
    return f"{len(value)} character{'s' if len(value) != 1 else ''}: {classes}"


def value_note(field_name: str, value: str | None) -> str:
    """``field='value'`` when it may be quoted, else the value described."""
    if value is None or value == "":
        return ""
    if quotable(field_name, value):
        return f"{field_name}={value!r}"
    return f"{field_name} not quoted ({describe(value)})"


def record_id(value: str | None) -> str:
    """The record id as a rejection line shows it: empty unless a valid identifier
    that is not shaped like a resident ID (with its check character) or a bank card
    number (Luhn-valid); the line number still locates the row."""
    if not value or _IDENTIFIER.fullmatch(value) is None:
        return ""
    if _RESIDENT_ID.fullmatch(value) and _resident_check(value):
        return ""
    if _CARD.fullmatch(value) and _luhn(value):
        return ""
    return value


def _resident_check(value: str) -> bool:
    total = sum(int(digit) * pow(2, 17 - position, 11) for position, digit in enumerate(value[:17]))
    return "10X98765432"[total % 11] == value[17].upper()


def _luhn(value: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(value)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
