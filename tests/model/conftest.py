"""Environments for the model-based test: a ledger on SQLite, on PostgreSQL, and on
a PostgreSQL database created with an ICU collation (linguistic order: issue 12
item 9; tests/conftest.py's postgres_icu_server), each with its landing zone,
outbox and lake in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.model.driver import PipelineEnv


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
