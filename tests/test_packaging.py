"""The installed package carries what runs outside the source tree: the DAG files
(as claims_dags), the migrations and the reference data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_dags_migrations_and_reference_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    wheel = next(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "claims_dags/ingest_orders.py", "claims_dags/ingest_claims.py", "claims_dags/runner.py",
        "claims_dags/_wiring.py", "claims_dags/_ingest_stage.py", "claims_dags/.airflowignore",
        "claims/ledger/migrations/env.py", "claims/ledger/migrations/script.py.mako",
        "claims/reference/data/areas.csv", "claims/reference/data/rates.csv", "claims/reference/data/workdays/README.md",
        "validations/suites.py", "claims/cli.py",
    }
    assert expected <= names, sorted(expected - names)
    assert any(name.startswith("claims/ledger/migrations/versions/0001") for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "claims = claims.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
