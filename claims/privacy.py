"""Pseudonyms, encryption and masking of personal data (PIPL).

- A worker is identified by a keyed pseudonym: HMAC-SHA256 of the resident ID under
  a secret from configuration. The same worker gets the same pseudonym under the
  same key, so orders and claims join without the ID ever being stored; hence one
  pseudonym key, never a ring (a claim under a new key would match no order).
- What payment needs back (name, bank account) is encrypted with AES-256-GCM under
  a key from configuration. A ciphertext reads ``key-id:base64(nonce|ciphertext)``,
  so keys rotate: new data uses the first key of the ring, old data still decrypts.
- Masks for people: bank card first 6 + last 4, resident ID area code + last 4.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

import pyarrow as pa

PSEUDONYM_CHARS = 32  # hex characters kept of the HMAC (128 bits)


class Pseudonymiser:
    """Keyed pseudonyms; remembers the ones it made (a file names the same workers
    over and over), so each distinct resident ID is hashed once per process."""

    def __init__(self, key_id: str, secret: bytes, cache_size: int = 2_000_000) -> None:
        self.key_id = key_id
        self.secret = secret
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    @classmethod
    def from_ring(cls, ring: dict[str, str]) -> Pseudonymiser:
        """The one key of the configured ring (settings refuse more at start-up)."""
        if len(ring) != 1:
            raise ValueError(f"a pseudonym ring holds exactly one key, not {len(ring)} "
                             "(docs/architecture.md, Rotation)")
        key_id, secret = next(iter(ring.items()))
        return cls(key_id, secret.encode("utf-8"))

    def pseudonym(self, value: str) -> str:
        known = self._cache.get(value)
        if known is not None:
            return known
        digest = self._keyed.copy()
        digest.update(value.encode("utf-8"))
        made = digest.hexdigest()[:PSEUDONYM_CHARS]
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[value] = made
        return made

    def pseudonyms(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Pseudonymise a column, hashing each distinct value once."""
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(values)
        if isinstance(encoded, pa.ChunkedArray):
            if encoded.num_chunks == 0:
                return pa.array([], pa.string())
            encoded = encoded.unify_dictionaries().combine_chunks()
        pseudonym = self.pseudonym
        hashed = pa.array([pseudonym(value) for value in encoded.dictionary.to_pylist()], pa.string())
        return pc.take(hashed, encoded.indices)


@dataclass(frozen=True)
class Cipher:
    ring: dict[str, bytes]  # key id -> 32-byte key; the first encrypts

    @classmethod
    def from_ring(cls, ring: dict[str, str]) -> Cipher:
        keys = {}
        for key_id, encoded in ring.items():
            key = base64.b64decode(encoded)
            if len(key) != 32:
                raise ValueError(f"encryption key {key_id!r} must be 32 bytes (base64)")
            keys[key_id] = key
        return cls(keys)

    @property
    def key_id(self) -> str:
        return next(iter(self.ring))

    def encrypt(self, plaintext: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key_id = self.key_id
        nonce = os.urandom(12)
        sealed = AESGCM(self.ring[key_id]).encrypt(nonce, plaintext.encode("utf-8"), key_id.encode())
        return f"{key_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key_id, _, payload = token.partition(":")
        raw = base64.b64decode(payload)
        return AESGCM(self.ring[key_id]).decrypt(raw[:12], raw[12:], key_id.encode()).decode("utf-8")


def mask_account(account: str) -> str:
    if len(account) <= 10:
        return "*" * len(account)
    return account[:6] + "*" * (len(account) - 10) + account[-4:]


def mask_resident_id(resident_id: str) -> str:
    if len(resident_id) < 10:
        return "*" * len(resident_id)
    return resident_id[:6] + "*" * (len(resident_id) - 10) + resident_id[-4:]


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""
