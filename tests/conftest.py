"""Shared fixtures: ledgers on SQLite and on the machine's PostgreSQL, clean
settings, and the S3 server plugin (tests/s3_fixtures.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.s3_fixtures"]

POSTGRES_ADMIN_URL = os.environ.get(
    "CLAIMS_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
_CLAIMS_ENV = [name for name in os.environ if name.startswith("CLAIMS_") and name != "CLAIMS_TEST_POSTGRES_URL"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


#: The longest test files (minutes each on two cores). They run first, and their
#: tests are spread one by one over the pytest-xdist workers; every other file runs
#: whole on one worker (``--dist loadfile``), so a module-scoped fixture (an Airflow
#: world, a parsed DagBag, a simulated day) is made once. Earlier here, earlier in
#: the run. A path prefix of the node id.
LONGEST_FIRST = (
    "tests/e2e/test_airflow_scheduler.py",  # one module-scoped Airflow world: kept whole
    "tests/e2e/test_run_day.py",
    "tests/e2e/test_run_day_faults.py",
    "tests/model/test_money_path.py",
    "tests/payouts/test_money_path.py",
    "tests/payouts/test_properties.py",
    "tests/test_readers_fuzz.py",
)
KEPT_WHOLE = ("tests/e2e/test_airflow_scheduler.py",)


def _rank(item: pytest.Item) -> int:
    for rank, prefix in enumerate(LONGEST_FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first; the rest keep pytest's order (a stable sort)."""
    items.sort(key=_rank)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    """``--dist loadfile``, except that the tests of the longest files are work units
    of their own. (``--dist loadgroup`` would do it by marks, but under pytest 9 its
    group never reaches the node id it schedules by.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestSpread(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(LONGEST_FIRST) and not nodeid.startswith(KEPT_WHOLE):
                return nodeid
            return super()._split_scope(nodeid)

    return LongestSpread(config, log)


@pytest.fixture(autouse=True)
def _clean_claims_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's own CLAIMS_* settings, nor a settings source
    another test module registered (importing claims_dags registers Airflow's)."""
    for name in _CLAIMS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("claims.settings._sources", [])


def _fresh_database(prefix: str, options: str = "") -> Iterator[str]:
    """A new PostgreSQL database (CREATE DATABASE ... ``options``) for the session,
    dropped at its end; fails in CI when it cannot be made, skips elsewhere."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{options}'))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server
        message = f"PostgreSQL is not usable at {POSTGRES_ADMIN_URL}: {error}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from claims.ledger.db import engine_for

    engine_for(url).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL database for the session; fails in CI when unreachable."""
    yield from _fresh_database("claims_test")


@pytest.fixture(scope="session")
def postgres_icu_server() -> Iterator[str]:
    """A second database for the session whose default collation is ICU's en-US (as a
    server's locale may give): every ordering that decides something must not
    depend on it. Fails in CI when unusable."""
    yield from _fresh_database(
        "claims_icu", " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-icu"])
def any_collation_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``ledger_env`` on SQLite, PostgreSQL with the C collation, and PostgreSQL with an ICU collation."""
    from claims.ledger.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'claims.db'}"
    else:
        url = request.getfixturevalue("postgres_server" if request.param == "postgresql" else "postgres_icu_server")
        _reset_postgres(url)
    upgrade(url)
    monkeypatch.setenv("CLAIMS_DATABASE_URL", url)
    monkeypatch.setenv("CLAIMS_LANDING_URL", str(tmp_path / "landing"))
    monkeypatch.setenv("CLAIMS_OUTBOX_URL", str(tmp_path / "outbox"))
    monkeypatch.setenv("CLAIMS_LAKE_URL", str(tmp_path / "lake"))
    return tmp_path


def _reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from claims.ledger.db import engine_for

    with engine_for(url).begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty ledger at the latest schema, on SQLite and on PostgreSQL."""
    from claims.ledger.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'claims.db'}"
    else:
        url = request.getfixturevalue("postgres_server")
        _reset_postgres(url)
    upgrade(url)
    return url


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose ./var/ is the embedded default."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def ledger_env(ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every CLAIMS_* location in a temporary folder, the ledger on SQLite or
    PostgreSQL (parametrised through ``ledger_url``)."""
    monkeypatch.setenv("CLAIMS_DATABASE_URL", ledger_url)
    monkeypatch.setenv("CLAIMS_LANDING_URL", str(tmp_path / "landing"))
    monkeypatch.setenv("CLAIMS_OUTBOX_URL", str(tmp_path / "outbox"))
    monkeypatch.setenv("CLAIMS_LAKE_URL", str(tmp_path / "lake"))
    return tmp_path
