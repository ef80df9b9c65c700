"""Keys, pseudonyms, encryption and masks."""

from __future__ import annotations

import base64

import pyarrow as pa
import pytest

from claims.privacy import Cipher, Pseudonymiser, mask_account, mask_resident_id
from claims.settings import ConfigurationError, load_settings
from tests import factories as f

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()


def test_development_keys_only_outside_production(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.uses_development_keys
    monkeypatch.setenv("CLAIMS_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="CLAIMS_PSEUDONYM_KEYS"):
        load_settings()
    monkeypatch.setenv("CLAIMS_PSEUDONYM_KEYS", "dev:whatever")
    monkeypatch.setenv("CLAIMS_ENCRYPTION_KEYS", f"k1:{KEY_A}")
    with pytest.raises(ConfigurationError, match="development key"):
        load_settings()
    monkeypatch.setenv("CLAIMS_PSEUDONYM_KEYS", "p1:a-secret-of-at-least-thirty-two-bytes")
    for name in ("CLAIMS_DATABASE_URL", "CLAIMS_LANDING_URL", "CLAIMS_OUTBOX_URL", "CLAIMS_LAKE_URL"):
        monkeypatch.setenv(name, "/srv/claims")  # production has no ./var/ fallback
    production = load_settings()
    assert not production.uses_development_keys
    assert list(production.encryption_keys) == ["k1"]


def test_malformed_key_ring_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMS_PSEUDONYM_KEYS", "no-separator")
    with pytest.raises(ConfigurationError):
        load_settings()


def test_pseudonyms_are_keyed_stable_and_record_their_key() -> None:
    one = Pseudonymiser("p1", b"secret-one")
    two = Pseudonymiser("p2", b"secret-two")
    assert one.pseudonym(f.WORKER) == one.pseudonym(f.WORKER) != two.pseudonym(f.WORKER)
    assert f.WORKER not in one.pseudonym(f.WORKER) and len(one.pseudonym(f.WORKER)) == 32
    column = pa.chunked_array([[f.WORKER, f.HK_WORKER], [f.WORKER]])
    assert one.pseudonyms(column).to_pylist() == [one.pseudonym(f.WORKER), one.pseudonym(f.HK_WORKER), one.pseudonym(f.WORKER)]
    assert Pseudonymiser.from_ring({"p2": "s"}).key_id == "p2"
    with pytest.raises(ValueError, match="exactly one key"):
        Pseudonymiser.from_ring({"p2": "s", "p1": "t"})  # a claim under p2 would match no order under p1


def test_encryption_names_its_key_and_old_keys_still_decrypt() -> None:
    old = Cipher.from_ring({"k1": KEY_A})
    token = old.encrypt("张三")
    assert token.startswith("k1:") and "张三" not in token
    rotated = Cipher.from_ring({"k2": KEY_B, "k1": KEY_A})
    assert rotated.decrypt(token) == "张三"
    assert rotated.encrypt("x").startswith("k2:")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        rotated.decrypt(tampered)
    with pytest.raises(ValueError):
        Cipher.from_ring({"short": base64.b64encode(b"x" * 16).decode()})


def test_masks() -> None:
    assert mask_account("6217000000000000019") == "621700*********0019"
    assert mask_resident_id(f.WORKER) == f.WORKER[:6] + "********" + f.WORKER[-4:]
