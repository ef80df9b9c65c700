"""pytest plugin: a real S3 server (``rclone serve s3``) for the test session.

Register it with ``pytest_plugins = ["tests.s3_fixtures"]`` in the root conftest
(or ``-p tests.s3_fixtures``). Fixtures:

``s3_server``      one server for the whole session, serving a temporary folder.
``s3_bucket_env``  a fresh bucket per test, with the ``AWS_*`` environment set so
                   that plain ``boto3.client("s3")`` (and so ``open_store``) uses
                   the server; yields ``(bucket_name, server)``. boto3's default
                   session is reset for the test, so credentials cached by earlier
                   code do not leak in (and the test's do not leak out).

If rclone is missing or does not start, the fixtures fail when ``CI`` is set
(anything but empty, ``0``, ``false`` or ``no``) and skip, with the reason, otherwise.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import boto3
import pytest

from .s3server import CLEARED_ENV_VARS, S3Server, S3ServerError, new_boto3_session, running_s3_server


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    root = tmp_path_factory.mktemp("s3-root")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(running_s3_server(root))
        except S3ServerError as error:
            message = f"the test S3 server (rclone serve s3) is unavailable: {error}"
            if _in_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        yield server


@pytest.fixture
def s3_bucket_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, S3Server]]:
    for name in CLEARED_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    # boto3.client() uses a default session that keeps the credentials it resolved
    # first; give this test a fresh one, which reads the environment just set.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", new_boto3_session())
    bucket = f"test-{uuid.uuid4().hex[:20]}"
    s3_server.client().create_bucket(Bucket=bucket)
    yield bucket, s3_server
