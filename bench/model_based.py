"""The model-based test of the money path, run longer than the suite does: a fixed
count of seeds, each a hypothesis run of random multi-day histories through the
real pipeline (tests/model/machine.py), on SQLite or PostgreSQL. Prints what it
ran and, for each seed that failed, the failure and the shortest history found.

    .venv/bin/python bench/model_based.py                       # 5 seeds x 20 histories on SQLite
    .venv/bin/python bench/model_based.py --database postgresql-icu --seeds 3
    .venv/bin/python bench/model_based.py --without hostile_names,over_limit   # look past known defects
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from tests.model.driver import PipelineEnv  # noqa: E402
from tests.model.machine import MoneyPath, Scope  # noqa: E402

ADMIN_URL = os.environ.get("CLAIMS_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def database(kind: str, root: Path) -> tuple[str, str | None]:
    """A ledger URL for ``kind`` and the PostgreSQL database to drop afterwards."""
    if kind == "sqlite":
        return f"sqlite:///{root / 'claims.db'}", None
    from sqlalchemy import create_engine, text

    name = f"claims_bench_model_{uuid.uuid4().hex[:10]}"
    create = f'CREATE DATABASE "{name}"'
    if kind == "postgresql-icu":
        create += " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(create))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(name: str, url: str) -> None:
    from sqlalchemy import create_engine, text

    from claims.ledger.db import engine_for

    engine_for(url).dispose()
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "postgresql-icu"], default="sqlite")
    parser.add_argument("--seeds", type=int, default=5, help="hypothesis runs, seeded 0..N-1")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=20, help="histories per seed")
    parser.add_argument("--steps", type=int, default=16, help="steps per history at most")
    parser.add_argument("--without", default="", help="Scope flags to turn off, comma-separated: "
                        + ", ".join(field.name for field in dataclasses.fields(Scope)))
    parser.add_argument("--no-shrink", action="store_true", help="report the first failing history as found")
    args = parser.parse_args()
    off = [name for name in args.without.split(",") if name]
    scope = Scope(**{name: False for name in off})
    phases = [Phase.explicit, Phase.generate] + ([] if args.no_shrink else [Phase.shrink])
    print(f"model-based money path: {args.seeds} seeds x {args.examples} histories of at most {args.steps} steps, "
          f"on {args.database}; scope without: {', '.join(off) or 'nothing'}")
    failures = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="model-based-") as folder:
        root = Path(folder)
        url, created = database(args.database, root)
        env = PipelineEnv(root / "history", url)
        env.activate()
        machine = type("MoneyPathBench", (MoneyPath,), {"env": env, "scope": scope})
        try:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                random.seed(seed)  # hypothesis draws its seed from the global random when not derandomised
                began = time.perf_counter()
                try:
                    run_state_machine_as_test(machine, settings=settings(
                        max_examples=args.examples, stateful_step_count=args.steps, deadline=None, database=None,
                        phases=phases, suppress_health_check=list(HealthCheck), print_blob=False))
                    print(f"seed {seed}: {args.examples} histories held ({time.perf_counter() - began:.0f} s)")
                except Exception as error:  # noqa: BLE001 - every failure is reported, then the next seed runs
                    failures += 1
                    notes = "\n".join(getattr(error, "__notes__", []))
                    where = traceback.extract_tb(error.__traceback__)[-1]
                    print(f"seed {seed}: FAILED after {time.perf_counter() - began:.0f} s: {type(error).__name__}: "
                          f"{str(error)[:3000]}\n  (raised at {where.filename}:{where.lineno})\n{notes}")
                sys.stdout.flush()
        finally:
            if created:
                drop_database(created, url)
    print("what the histories held: " + ", ".join(f"{name} {count}" for name, count in sorted(MoneyPath.stats.items())))
    print(f"{args.seeds} seeds, {failures} failed, {time.perf_counter() - started:.0f} s in all")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
