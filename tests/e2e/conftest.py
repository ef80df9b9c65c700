"""Markers of the end-to-end tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "scheduler: starts real Airflow (api-server, scheduler, dag-processor) on a temporary "
                   "metadata database; minutes long")
