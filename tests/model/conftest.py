"""Environments for the model-based test: a ledger on SQLite, on PostgreSQL, and on
a PostgreSQL database created with an ICU collation (linguistic order: issue 12
item 9), each with its landing zone, outbox and lake in a temporary folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, in_ci
from tests.model.driver import PipelineEnv

ICU_DATABASE = "CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"


@pytest.fixture(scope="session")
def postgres_icu_server() -> Iterator[str]:
    """A fresh PostgreSQL database whose default collation is ICU's en-US."""
    from sqlalchemy import create_engine, text

    name = f"claims_model_icu_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(ICU_DATABASE.format(name=name)))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server
        message = f"PostgreSQL (with ICU) is not usable at {POSTGRES_ADMIN_URL}: {error}"
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


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-icu"])
def pipeline_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipelineEnv:
    root = tmp_path / "history"
    if request.param == "sqlite":
        env = PipelineEnv.sqlite(root)
    elif request.param == "postgresql":
        from tests.conftest import _reset_postgres

        url = request.getfixturevalue("postgres_server")
        _reset_postgres(url)
        env = PipelineEnv(root, url)
    else:
        from tests.conftest import _reset_postgres

        url = request.getfixturevalue("postgres_icu_server")
        _reset_postgres(url)
        env = PipelineEnv(root, url)
    for name, value in env.variables().items():
        monkeypatch.setenv(name, value)  # restored after the test (the driver sets them again)
    return env
