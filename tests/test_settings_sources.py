"""Settings from a registered source (inside Airflow: connections and variables,
claims_dags/_configuration.py) behind the environment, and production's refusal
to fall back to local paths (issue 15, item 6)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claims import settings as claims_settings
from claims.settings import ConfigurationError, load_settings, register_source, sqlalchemy_url

GOOD_KEYS = {"CLAIMS_PSEUDONYM_KEYS": f"p1:{'p' * 32}",
             "CLAIMS_ENCRYPTION_KEYS": f"k1:{base64.b64encode(b'k' * 32).decode()}"}


def test_a_source_fills_what_the_environment_leaves_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    held = {"CLAIMS_DATABASE_URL": "sqlite:////srv/ledger.db", "CLAIMS_LANDING_URL": "s3://landing/in",
            "CLAIMS_LATE_WINDOW_DAYS": "3"}
    asked: list[str] = []

    def source(name: str) -> str | None:
        asked.append(name)
        return held.get(name)

    register_source(source)
    monkeypatch.setenv("CLAIMS_LANDING_URL", "/data/landing")
    monkeypatch.setenv("CLAIMS_OUTBOX_URL", "")  # empty is unset
    settings = load_settings()
    assert settings.database_url == "sqlite:////srv/ledger.db" and settings.late_window_days == 3
    assert settings.landing_url == "/data/landing" and "CLAIMS_LANDING_URL" not in asked
    assert "CLAIMS_OUTBOX_URL" in asked


@pytest.mark.parametrize("missing", claims_settings.REQUIRED_IN_PRODUCTION)
def test_production_refuses_a_location_set_nowhere(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setenv("CLAIMS_ENVIRONMENT", "production")
    for name, value in GOOD_KEYS.items():
        monkeypatch.setenv(name, value)
    for name in claims_settings.REQUIRED_IN_PRODUCTION:
        if name != missing:
            monkeypatch.setenv(name, "/srv/claims")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith(f"{missing} is not set: production refuses to fall back") and "\n" not in message
    monkeypatch.setenv("CLAIMS_ENVIRONMENT", "development")
    assert "var" in getattr(load_settings(), missing.removeprefix("CLAIMS_").lower())  # development keeps ./var/


def test_the_claims_command_refuses_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW"))}
    env.update({"CLAIMS_ENVIRONMENT": "production", "AIRFLOW_HOME": str(tmp_path / "airflow"), **GOOD_KEYS})
    done = subprocess.run([str(Path(sys.executable).parent / "claims"), "db", "upgrade"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "CLAIMS_DATABASE_URL is not set: production refuses to fall back" in done.stderr
    assert "connection 'claims_ledger'" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no ./var/, no ledger


@pytest.mark.parametrize(("parts", "url"), [
    (("sqlite", "/srv/claims/ledger.db"), "sqlite:////srv/claims/ledger.db"),  # Airflow's form: the path as host
    (("sqlite", "", "/srv/claims/ledger.db"), "sqlite:////srv/claims/ledger.db"),  # from a sqlite:/// URI
    (("postgres", "db.internal", "claims", "claims", "p@ss:w/rd", 5432), "postgresql://claims:p%40ss%3Aw%2Frd@db.internal:5432/claims"),
    (("postgres", "h", "claims", None, None, None, {"sqlalchemy_url": "postgresql+psycopg://h/claims"}),
     "postgresql+psycopg://h/claims"),
])
def test_a_ledger_connection_becomes_a_sqlalchemy_url(parts: tuple, url: str) -> None:
    assert sqlalchemy_url(*parts) == url


def test_a_connection_of_another_type_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="type 'mysql'"):
        sqlalchemy_url("mysql", "h", "claims")


def test_outside_a_task_the_airflow_source_looks_nothing_up(tmp_path: Path) -> None:
    """The claims command imports claims_dags (run-day) and reads its settings before
    it has pointed Airflow at its home: reading them must not import Airflow."""
    code = ("import sys, claims_dags\nfrom claims.settings import load_settings\n"
            "print(load_settings().database_url, 'airflow' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "AIRFLOW"))}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"sqlite:///{tmp_path / 'var' / 'claims.db'}", "False"]


def test_a_source_reaches_the_settings_read_where_they_are_used(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    """Settings read by the stages themselves, not by load_settings(), come from a
    registered source too (inside Airflow: the variables), the environment first."""
    from datetime import date

    from claims.adjudication.rules import _rule_sets_dir
    from claims.arrivals import Expectations, arrival_cutoff
    from claims.reports import in_transit_alert_days

    held = {"CLAIMS_IN_TRANSIT_ALERT_DAYS": "9", "CLAIMS_EXPECTED_FEEDS": "orders",
            "CLAIMS_ARRIVAL_CUTOFF": "09:30", "CLAIMS_RULE_SETS_DIR": str(tmp_path)}
    register_source(held.get)
    assert in_transit_alert_days() == 9
    assert Expectations.from_environment().feeds == ("orders",)
    assert arrival_cutoff(date(2025, 9, 30)).strftime("%Y-%m-%d %H:%M") == "2025-10-01 09:30"
    assert _rule_sets_dir() == tmp_path
    monkeypatch.setenv("CLAIMS_IN_TRANSIT_ALERT_DAYS", "2")
    assert in_transit_alert_days() == 2
