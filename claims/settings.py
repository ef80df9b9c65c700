"""Every setting in one place, read from the environment with defaults.

The embedded default needs nothing installed: a SQLite ledger and local folders
under ``./var/``. Inside Airflow the same settings may come from Airflow
variables, but the environment always wins (CONTRACT.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: The development keys of the embedded demo. They are public (they are in the
#: source), so a production environment refuses to start with them.
DEV_KEY_ID = "dev"
DEV_PSEUDONYM_SECRET = "claims-development-pseudonym-key-do-not-use-in-production"
DEV_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQta2V5LTMyLWJ5dGVzLWxvbmchISE="  # 32 bytes, base64


class ConfigurationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str
    landing_url: str
    outbox_url: str
    lake_url: str
    environment: str  # "development" (embedded demo) or "production"
    pseudonym_keys: dict[str, str]  # key id -> secret; the first is current
    encryption_keys: dict[str, str]  # key id -> base64 32-byte key; the first is current
    late_window_days: int = 6
    ge_max_rows: int = 100_000
    chunk_rows: int = 1_000_000
    pending_max_days: int = 7
    coverage_grace_seconds: int = 0
    deadline_warning_working_days: int = 2
    payouts_auto_release: bool = True

    @property
    def uses_development_keys(self) -> bool:
        return DEV_KEY_ID in self.pseudonym_keys or DEV_KEY_ID in self.encryption_keys


def _keyring(value: str | None, dev_secret: str, environment: str, name: str) -> dict[str, str]:
    """Parse ``id1:secret1,id2:secret2`` (the first is current)."""
    if not value:
        if environment == "production":
            raise ConfigurationError(
                f"{name} is not set: production refuses to run without its own key "
                f"(format 'key-id:secret[,older-id:older-secret]')"
            )
        return {DEV_KEY_ID: dev_secret}
    ring: dict[str, str] = {}
    for part in value.split(","):
        key_id, sep, secret = part.strip().partition(":")
        if not sep or not key_id or not secret:
            raise ConfigurationError(f"{name}: expected 'key-id:secret', got an entry without both")
        ring[key_id] = secret
    if environment == "production" and DEV_KEY_ID in ring:
        raise ConfigurationError(f"{name}: the development key may not be used in production")
    return ring


def load_settings(base: Path | None = None) -> Settings:
    env = os.environ
    var = (base or Path.cwd()) / "var"
    environment = env.get("CLAIMS_ENVIRONMENT", "development")
    if environment not in ("development", "production"):
        raise ConfigurationError("CLAIMS_ENVIRONMENT is 'development' or 'production'")
    return Settings(
        database_url=env.get("CLAIMS_DATABASE_URL") or f"sqlite:///{var / 'claims.db'}",
        landing_url=env.get("CLAIMS_LANDING_URL") or str(var / "landing"),
        outbox_url=env.get("CLAIMS_OUTBOX_URL") or str(var / "outbox"),
        lake_url=env.get("CLAIMS_LAKE_URL") or str(var / "lake"),
        environment=environment,
        pseudonym_keys=_keyring(env.get("CLAIMS_PSEUDONYM_KEYS"), DEV_PSEUDONYM_SECRET, environment, "CLAIMS_PSEUDONYM_KEYS"),
        encryption_keys=_keyring(env.get("CLAIMS_ENCRYPTION_KEYS"), DEV_ENCRYPTION_KEY, environment, "CLAIMS_ENCRYPTION_KEYS"),
        late_window_days=int(env.get("CLAIMS_LATE_WINDOW_DAYS", "6")),
        ge_max_rows=int(env.get("CLAIMS_GE_MAX_ROWS", "100000")),
        chunk_rows=int(env.get("CLAIMS_CHUNK_ROWS", "1000000")),
        pending_max_days=int(env.get("CLAIMS_PENDING_MAX_DAYS", "7")),
        coverage_grace_seconds=int(env.get("CLAIMS_COVERAGE_GRACE_SECONDS", "0")),
        deadline_warning_working_days=int(env.get("CLAIMS_DEADLINE_WARNING_WORKING_DAYS", "2")),
        payouts_auto_release=env.get("CLAIMS_PAYOUTS_AUTO_RELEASE", "true" if environment == "development" else "false")
        .strip().lower() in ("1", "true", "yes"),
    )
