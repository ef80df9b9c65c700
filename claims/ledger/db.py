"""The ledger database: an engine for a URL and its schema at the latest revision."""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).parent / "migrations"


@functools.cache
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if str(path) not in ("", ":memory:"):
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: a day's bulk inserts touch many index pages
            cursor.close()

        return engine
    # JIT compilation (PostgreSQL 11+, on by default) costs a quarter of a second per
    # statement above its cost threshold, which a day's bulk statements all pass, and
    # saves nothing on them (measured: payouts of 100k items 7.1 s -> 6.7 s).
    # The session's time zone is UTC, as the ledger's instants are: the driver then
    # gives datetimes in UTC, which pandas takes six times faster than in a server
    # zone such as 'Etc/UTC' (0.1 s per 100,000 values); no query depends on it.
    return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c jit=off -c timezone=UTC"})


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the ledger schema to ``revision`` (idempotent)."""
    from alembic import command

    config = alembic_config(url)
    with engine_for(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def ordered_join(dialect: str) -> str:
    """The join keyword that reads the tables in the order written. A day's work
    starts from a small set of keys (the day's claims, a work list) and looks each
    up by index in tables that grow with every day of history. PostgreSQL's planner
    knows the tables' sizes (the small sets are analysed); SQLite's keeps no
    statistics here and would rather scan the big table and look each row up in
    the small one, while its CROSS JOIN keeps the order written."""
    return "CROSS JOIN" if dialect == "sqlite" else "JOIN"
