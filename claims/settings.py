"""Every setting in one place, read from the environment with defaults.

The embedded default needs nothing installed: a SQLite ledger and local folders
under ``./var/``. Inside Airflow the same settings may come from Airflow
connections and variables (and so from any secrets backend): the DAG side
registers a :data:`SettingSource` (``claims_dags._configuration``); this module
imports no Airflow. The environment always wins (CONTRACT.md). In production a
location that is set nowhere refuses to start instead of falling back to ``./var/``.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: The development keys of the embedded demo. They are public (they are in the
#: source), so a production environment refuses to start with them.
DEV_KEY_ID = "dev"
DEV_PSEUDONYM_SECRET = "claims-development-pseudonym-key-do-not-use-in-production"
DEV_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQta2V5LTMyLWJ5dGVzLWxvbmchISE="  # 32 bytes, base64
#: The shortest pseudonym (HMAC-SHA256) secret production takes: the hash's own 32 bytes.
MIN_PSEUDONYM_SECRET_BYTES = 32
#: How a new secret is made (said in the messages that refuse one).
MAKE_A_SECRET = "python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"


class ConfigurationError(RuntimeError):
    pass


#: Where a setting is looked up when the environment does not set it: the setting's
#: name (``CLAIMS_DATABASE_URL``, ``AWS_ENDPOINT_URL``, ...) -> its value, or None.
SettingSource = Callable[[str], "str | None"]
_sources: list[SettingSource] = []

#: The locations production must be given (no fallback to a local ``./var/``).
REQUIRED_IN_PRODUCTION = ("CLAIMS_DATABASE_URL", "CLAIMS_LANDING_URL", "CLAIMS_OUTBOX_URL", "CLAIMS_LAKE_URL")


def register_source(source: SettingSource) -> None:
    """Add a place settings come from after the environment (once per source)."""
    if source not in _sources:
        _sources.append(source)


def unregister_source(source: SettingSource) -> None:
    if source in _sources:
        _sources.remove(source)


def setting(name: str, default: str | None = None) -> str | None:
    """A setting's value: the environment variable, else the first registered source
    that has it, else ``default``. An empty value counts as unset."""
    value = os.environ.get(name)
    if value:
        return value
    for source in _sources:
        value = source(name)
        if value:
            return value
    return default


def third_party_logs() -> bool:
    """``CLAIMS_THIRD_PARTY_LOGS``: whether libraries' INFO chatter and deprecation
    warnings are shown (off by default; claims/logs.py). Environment only: it is
    needed before anything else is configured."""
    return os.environ.get("CLAIMS_THIRD_PARTY_LOGS", "").strip().lower() in ("1", "true", "yes")


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
    max_line_bytes: int = 1 << 20  # the longest line (JSONL record, Parquet row as text) a reader takes
    pending_max_days: int = 7
    coverage_grace_seconds: int = 0
    deadline_warning_working_days: int = 2
    payouts_auto_release: bool = True
    #: the largest payout item written to a bank file: a larger one is held out as an
    #: exception for a person to look at (2,000,000 yuan: above any benefit the scheme pays)
    max_item_fen: int = 200_000_000

    @property
    def uses_development_keys(self) -> bool:
        """Whether a key of either ring is a public development key, by id or by value."""
        return any(key_id == DEV_KEY_ID or _is_development_secret(secret)
                   for ring in (self.pseudonym_keys, self.encryption_keys) for key_id, secret in ring.items())


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


def _is_development_secret(secret: str) -> bool:
    """The public development secrets, under whatever key id: the pseudonym secret,
    and the encryption key (also as other base64 of the same 32 bytes)."""
    if secret.strip() in (DEV_PSEUDONYM_SECRET, DEV_ENCRYPTION_KEY):
        return True
    return _base64_key(secret) == base64.b64decode(DEV_ENCRYPTION_KEY)


def _base64_key(secret: str) -> bytes | None:
    try:
        return base64.b64decode(secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def check_pseudonym_keys(ring: dict[str, str], environment: str) -> None:
    """One pseudonym key, in every environment: a claim matches its order only when
    both were pseudonymised under the same key, and the resident IDs are not kept,
    so a second key in the ring cannot work (docs/architecture.md, Rotation). In
    production: not a development secret, and at least 32 bytes."""
    name = "CLAIMS_PSEUDONYM_KEYS"
    if len(ring) > 1:
        raise ConfigurationError(
            f"{name} holds {len(ring)} keys ({', '.join(ring)}): pseudonyms are matched under one key only "
            "(claims pseudonymised under a new key would not match orders pseudonymised under the old one); "
            "configure the one key the stored pseudonyms were made with. Changing it means re-keying every stored "
            "pseudonym (order lake and ledger), which this release does not do (docs/architecture.md, Rotation)"
        )
    if environment != "production":
        return
    for key_id, secret in ring.items():
        if _is_development_secret(secret):
            raise ConfigurationError(
                f"{name}: key {key_id!r} is a public development secret (it is in the source): production needs "
                f"its own secret of at least {MIN_PSEUDONYM_SECRET_BYTES} bytes, e.g. from {MAKE_A_SECRET}")
        if len(secret.encode("utf-8")) < MIN_PSEUDONYM_SECRET_BYTES:
            raise ConfigurationError(
                f"{name}: key {key_id!r} is {len(secret.encode('utf-8'))} bytes: production needs at least "
                f"{MIN_PSEUDONYM_SECRET_BYTES} (the HMAC-SHA256 secret of every pseudonym), e.g. from {MAKE_A_SECRET}")


def check_encryption_keys(ring: dict[str, str], environment: str) -> None:
    """Every key 32 bytes of base64 (AES-256), in every environment (another key
    cannot encrypt); in production, none of them a development key."""
    name = "CLAIMS_ENCRYPTION_KEYS"
    for key_id, secret in ring.items():
        if environment == "production" and _is_development_secret(secret):
            raise ConfigurationError(
                f"{name}: key {key_id!r} is a public development key (it is in the source): production needs its "
                f"own, 32 random bytes in base64, e.g. from {MAKE_A_SECRET}")
        key = _base64_key(secret)
        if key is None or len(key) != 32:
            what = "is not base64" if key is None else f"is {len(key)} bytes"
            raise ConfigurationError(
                f"{name}: key {key_id!r} {what}: an AES-256 key is 32 bytes in base64, e.g. from {MAKE_A_SECRET}")


def _location(name: str, environment: str, fallback: Path | str) -> str:
    value = setting(name)
    if value:
        return value
    if environment == "production":
        raise ConfigurationError(
            f"{name} is not set: production refuses to fall back to the local {fallback} "
            f"(set the environment variable, or in Airflow the {AIRFLOW_NAMES.get(name, f'variable {name.lower()!r}')})")
    return str(fallback)


#: Where each setting may come from inside Airflow, said in the refusals (the DAG
#: side's source implements it: claims_dags/_configuration.py). Any other
#: ``CLAIMS_X`` is the Airflow variable ``claims_x``.
AIRFLOW_NAMES = {
    "CLAIMS_DATABASE_URL": "connection 'claims_ledger' or variable 'claims_database_url'",
}


def _number(name: str, default: int) -> int:
    value = setting(name)
    try:
        return int(value) if value is not None else default
    except ValueError:
        raise ConfigurationError(f"{name} is {value!r}: expected a whole number") from None


def load_settings(base: Path | None = None) -> Settings:
    var = (base or Path.cwd()) / "var"
    environment = setting("CLAIMS_ENVIRONMENT", "development") or "development"
    if environment not in ("development", "production"):
        raise ConfigurationError("CLAIMS_ENVIRONMENT is 'development' or 'production'")
    pseudonym_keys = _keyring(setting("CLAIMS_PSEUDONYM_KEYS"), DEV_PSEUDONYM_SECRET, environment, "CLAIMS_PSEUDONYM_KEYS")
    encryption_keys = _keyring(setting("CLAIMS_ENCRYPTION_KEYS"), DEV_ENCRYPTION_KEY, environment, "CLAIMS_ENCRYPTION_KEYS")
    check_pseudonym_keys(pseudonym_keys, environment)
    check_encryption_keys(encryption_keys, environment)
    auto_release = setting("CLAIMS_PAYOUTS_AUTO_RELEASE", "true" if environment == "development" else "false")
    return Settings(
        database_url=_location("CLAIMS_DATABASE_URL", environment, f"sqlite:///{var / 'claims.db'}"),
        landing_url=_location("CLAIMS_LANDING_URL", environment, var / "landing"),
        outbox_url=_location("CLAIMS_OUTBOX_URL", environment, var / "outbox"),
        lake_url=_location("CLAIMS_LAKE_URL", environment, var / "lake"),
        environment=environment,
        pseudonym_keys=pseudonym_keys,
        encryption_keys=encryption_keys,
        late_window_days=_number("CLAIMS_LATE_WINDOW_DAYS", 6),
        ge_max_rows=_number("CLAIMS_GE_MAX_ROWS", 100_000),
        chunk_rows=_number("CLAIMS_CHUNK_ROWS", 1_000_000),
        max_line_bytes=_number("CLAIMS_MAX_LINE_BYTES", 1 << 20),
        pending_max_days=_number("CLAIMS_PENDING_MAX_DAYS", 7),
        coverage_grace_seconds=_number("CLAIMS_COVERAGE_GRACE_SECONDS", 0),
        deadline_warning_working_days=_number("CLAIMS_DEADLINE_WARNING_WORKING_DAYS", 2),
        payouts_auto_release=(auto_release or "").strip().lower() in ("1", "true", "yes"),
        max_item_fen=_number("CLAIMS_MAX_ITEM_FEN", 200_000_000),
    )


def sqlalchemy_url(conn_type: str, host: str | None, schema: str | None = None, login: str | None = None,
                   password: str | None = None, port: int | None = None, extra: dict | None = None) -> str:
    """The ledger's SQLAlchemy URL from the parts of a connection (an Airflow
    connection's fields, handed over by the DAG side): ``sqlite`` (the host, or the
    schema of a ``sqlite:///`` URI, is the file's path) or ``postgres``/``postgresql`` (the schema is the database);
    ``extra["sqlalchemy_url"]`` wins when given."""
    from sqlalchemy.engine import URL

    if extra and extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    kind = (conn_type or "").lower()
    if kind == "sqlite":  # the file's path: in the host field (Airflow's form), or the path of a sqlite:/// URI
        path = host or schema
        if not path:
            raise ConfigurationError("the ledger's sqlite connection names no file (host or path)")
        return f"sqlite:///{path}"
    if kind in ("postgres", "postgresql"):
        url = URL.create("postgresql", username=login or None, password=password or None, host=host or None,
                         port=port or None, database=schema or None)
        return url.render_as_string(hide_password=False)
    raise ConfigurationError(
        f"the ledger's connection is of type {conn_type!r}: expected sqlite or postgres "
        "(or an extra 'sqlalchemy_url')")
