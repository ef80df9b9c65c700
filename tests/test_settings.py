"""Secrets are real (issue 13, item 8) and the pseudonym ring is one key (issue 12,
item 10): what production refuses, in one line, without a traceback."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claims.settings import (
    DEV_ENCRYPTION_KEY,
    DEV_PSEUDONYM_SECRET,
    REQUIRED_IN_PRODUCTION,
    ConfigurationError,
    load_settings,
)

GOOD_SECRET = "p" * 32
GOOD_KEY = base64.b64encode(b"k" * 32).decode()
CLAIMS_COMMAND = Path(sys.executable).parent / "claims"


def production(monkeypatch: pytest.MonkeyPatch, pseudonym: str = f"p1:{GOOD_SECRET}",
               encryption: str = f"k1:{GOOD_KEY}") -> None:
    monkeypatch.setenv("CLAIMS_ENVIRONMENT", "production")
    monkeypatch.setenv("CLAIMS_PSEUDONYM_KEYS", pseudonym)
    monkeypatch.setenv("CLAIMS_ENCRYPTION_KEYS", encryption)
    for name in REQUIRED_IN_PRODUCTION:  # production has no ./var/ fallback
        monkeypatch.setenv(name, f"/srv/claims/{name.lower()}")


def test_production_takes_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    settings = load_settings()
    assert settings.pseudonym_keys == {"p1": GOOD_SECRET} and not settings.uses_development_keys
    production(monkeypatch, encryption=f"k2:{base64.b64encode(b'n' * 32).decode()},k1:{GOOD_KEY}")
    assert list(load_settings().encryption_keys) == ["k2", "k1"]  # encryption keys rotate


@pytest.mark.parametrize(("pseudonym", "encryption", "says"), [
    (f"p1:{DEV_PSEUDONYM_SECRET}", f"k1:{GOOD_KEY}", "CLAIMS_PSEUDONYM_KEYS: key 'p1' is a public development"),
    (f"p1:{DEV_ENCRYPTION_KEY}", f"k1:{GOOD_KEY}", "CLAIMS_PSEUDONYM_KEYS: key 'p1' is a public development"),
    (f"p1:{GOOD_SECRET}", f"k1:{DEV_ENCRYPTION_KEY}", "CLAIMS_ENCRYPTION_KEYS: key 'k1' is a public development"),
    (f"p1:{GOOD_SECRET}", f"k1:{DEV_ENCRYPTION_KEY.rstrip('=')}=", "key 'k1' is a public development"),
    (f"p1:{GOOD_SECRET}", f"k1:{GOOD_KEY},old:{DEV_ENCRYPTION_KEY}", "key 'old' is a public development"),
    ("p1:12345", f"k1:{GOOD_KEY}", "key 'p1' is 5 bytes: production needs at least 32"),
    ("p1:" + "s" * 31, f"k1:{GOOD_KEY}", "key 'p1' is 31 bytes"),
    (f"p1:{GOOD_SECRET}", "k1:not base64!", "CLAIMS_ENCRYPTION_KEYS: key 'k1' is not base64"),
    (f"p1:{GOOD_SECRET}", f"k1:{base64.b64encode(b'k' * 16).decode()}", "key 'k1' is 16 bytes"),
    (f"p1:{GOOD_SECRET}", f"k1:{GOOD_KEY},k0:{base64.b64encode(b'k' * 31).decode()}", "key 'k0' is 31 bytes"),
])
def test_production_refuses_public_short_and_malformed_keys(
    monkeypatch: pytest.MonkeyPatch, pseudonym: str, encryption: str, says: str
) -> None:
    production(monkeypatch, pseudonym, encryption)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_development_keeps_its_demo_keys_and_short_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().uses_development_keys
    monkeypatch.setenv("CLAIMS_PSEUDONYM_KEYS", "p1:short")
    monkeypatch.setenv("CLAIMS_ENCRYPTION_KEYS", f"mine:{DEV_ENCRYPTION_KEY}")
    settings = load_settings()
    assert settings.pseudonym_keys == {"p1": "short"} and settings.uses_development_keys  # by value
    monkeypatch.setenv("CLAIMS_ENCRYPTION_KEYS", "k1:c2hvcnQ=")  # 5 bytes: no environment can encrypt with it
    with pytest.raises(ConfigurationError, match="key 'k1' is 5 bytes"):
        load_settings()


@pytest.mark.parametrize("environment", ["development", "production"])
def test_a_pseudonym_ring_of_two_keys_is_refused_with_how_rotation_is_done(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    production(monkeypatch, pseudonym=f"p2:{'q' * 32},p1:{GOOD_SECRET}")
    monkeypatch.setenv("CLAIMS_ENVIRONMENT", environment)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith("CLAIMS_PSEUDONYM_KEYS holds 2 keys (p2, p1)") and "\n" not in message
    assert "re-keying" in message and "docs/architecture.md" in message


def run_claims(args: list[str], env_changes: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW"))}
    env.update(env_changes)
    return subprocess.run([str(CLAIMS_COMMAND), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("keys", "says"), [
    ({"CLAIMS_PSEUDONYM_KEYS": "p1:12345"}, "is 5 bytes"),
    ({"CLAIMS_PSEUDONYM_KEYS": f"prod:{DEV_PSEUDONYM_SECRET}"}, "public development secret"),
    ({"CLAIMS_ENCRYPTION_KEYS": f"prod:{DEV_ENCRYPTION_KEY}"}, "public development key"),
    ({"CLAIMS_ENCRYPTION_KEYS": "k1:abc"}, "is not base64"),
    ({"CLAIMS_PSEUDONYM_KEYS": f"p2:{'q' * 32},p1:{GOOD_SECRET}"}, "holds 2 keys"),
])
def test_the_claims_command_says_it_in_one_line_and_writes_nothing(
    tmp_path: Path, keys: dict[str, str], says: str
) -> None:
    env = {"CLAIMS_ENVIRONMENT": "production", "CLAIMS_PSEUDONYM_KEYS": f"p1:{GOOD_SECRET}",
           "CLAIMS_ENCRYPTION_KEYS": f"k1:{GOOD_KEY}", "AIRFLOW_HOME": str(tmp_path / "airflow"), **keys}
    commands = [["run-day", "2025-09-12"], ["db", "upgrade"], ["pay", "2025-09-12"]] if "5 bytes" in says else \
        [["run-day", "2025-09-12"]]
    for args in commands:
        done = run_claims(args, env, tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stdout == "" and says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no ledger, no Airflow home, nothing


def test_the_docs_offer_no_pseudonym_rotation_that_cannot_work() -> None:
    """The README and the architecture notes promise only what works: one pseudonym
    key (a ring is refused), rotation of the encryption keys only."""
    root = Path(__file__).resolve().parents[1]
    readme = root.joinpath("README.md").read_text("utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `CLAIMS_PSEUDONYM_KEYS`"))
    assert "exactly one key" in row and "old" not in row and "," not in row.split("|")[2].split("`")[1]
    rotation = root.joinpath("docs/architecture.md").read_text("utf-8").split("### Rotation", 1)[1].split("\n#", 1)[0]
    assert "refused at start-up" in rotation and "ships no such migration" in rotation
