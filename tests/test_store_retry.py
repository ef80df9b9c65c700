"""An S3 write that fails is retried: a real rclone server behind a small proxy
that answers the first PUTs with 503 SlowDown, as S3 does under load."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from claims.store import open_store

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")


class FlakyProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, failures: int) -> None:
        self.upstream = urlsplit(upstream)
        self.failures_left = failures
        self.failed = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FlakyProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with self.server.lock:
            fail = self.command == "PUT" and self.server.failures_left > 0
            if fail:
                self.server.failures_left -= 1
                self.server.failed += 1
        if fail:
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            self.wfile.write(SLOW_DOWN)
            return
        upstream = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=30)
        headers = {key: value for key, value in self.headers.items() if key.lower() != "connection"}
        upstream.request(self.command, self.path, body=body, headers=headers)  # Host kept: the signature covers it
        response = upstream.getresponse()
        data = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _relay


@pytest.fixture
def flaky_endpoint(s3_bucket_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, FlakyProxy]]:  # type: ignore[no-untyped-def]
    bucket, server = s3_bucket_env
    proxy = FlakyProxy(server.endpoint_url, failures=2)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
    try:
        yield bucket, proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


@pytest.mark.s3
def test_a_failed_s3_write_is_retried(flaky_endpoint: tuple[str, FlakyProxy]) -> None:
    bucket, proxy = flaky_endpoint
    store = open_store(f"s3://{bucket}/outbox")
    store.write_bytes("payouts/date=2025-09-01/manifest.json", b'{"ok": true}')
    assert proxy.failed == 2  # two refusals, then the write went through
    assert store.read_bytes("payouts/date=2025-09-01/manifest.json") == b'{"ok": true}'
