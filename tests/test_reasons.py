"""The reason codes are documented, and the code uses only registered ones."""

from __future__ import annotations

import re
from pathlib import Path

from claims.reasons import REASONS

ROOT = Path(__file__).resolve().parents[1]


def test_every_code_is_documented_with_its_message() -> None:
    documented = (ROOT / "docs" / "reason-codes.md").read_text("utf-8")
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| \w+ \| (.+) \|$", documented, flags=re.M))
    assert rows == {code: reason.message for code, reason in REASONS.items()}


def test_the_code_uses_only_registered_codes() -> None:
    used = set()
    for path in (ROOT / "claims").rglob("*.py"):
        text = path.read_text("utf-8")
        used |= set(re.findall(r'(?:fail|reject_file|RejectionLine|message)\([^)]*?"([A-Z][A-Z_]{4,})"', text))
        used |= set(re.findall(r'reason_code="([A-Z_]+)"', text))
    assert len(used) > 10  # the pattern still finds the call sites
    unknown = {code for code in used if code not in REASONS}
    assert unknown == set()
