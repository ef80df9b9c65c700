"""claims.store against a local folder and a real S3 server (rclone serve s3).

The S3 cases need the ``tests.s3_fixtures`` plugin (``s3_bucket_env``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from claims.store import LocalStore, S3Store, Store, StoredObject, open_store

from .s3server import S3Server, new_boto3_session

PREFIX = "some/prefix"  # the S3 store's root inside its bucket
HIVE_KEY = "orders/platform=didi/date=2025-09-01/a.csv.gz"

KEYS = {
    HIVE_KEY: b"didi day one",
    "orders/platform=didi/date=2025-09-02/b.csv.gz": b"didi day two!",
    "orders/platform=didi-old/date=2025-01-01/z.csv.gz": b"old",
    "orders/platform=uber/date=2025-09-01/c.csv.gz": b"uber",
    "orders2/x.csv": b"x",
    "riders/r.csv": b"",
}

# Objects next to the store's root but outside it: never part of the store.
OUTSIDE = {
    "outside.txt": b"no",
    "some/prefix-other/orders/platform=didi/date=2025-09-01/a.csv.gz": b"no",
    "some/other.csv": b"no",
}


@dataclass
class Backend:
    kind: str
    store: Store
    container: Path | None = None  # local: the folder holding the store's root
    bucket: str | None = None
    server: S3Server | None = None

    def write_outside(self, path: str, data: bytes) -> None:
        """Write ``path`` relative to the container (the bucket, or the parent folder)."""
        if self.kind == "local":
            assert self.container is not None
            target = self.container / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        else:
            boto3.client("s3").put_object(Bucket=self.bucket, Key=path, Body=data)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        container = tmp_path / "container"
        store = open_store(str(container / PREFIX))
        assert isinstance(store, LocalStore)
        return Backend("local", store, container=container)
    bucket, server = request.getfixturevalue("s3_bucket_env")
    store = open_store(f"s3://{bucket}/{PREFIX}")
    assert isinstance(store, S3Store)
    return Backend("s3", store, bucket=bucket, server=server)


def test_write_read_round_trip(backend: Backend) -> None:
    store = backend.store
    data = bytes(range(256)) * 100
    store.write_bytes("a/b/data.bin", data)
    assert store.read_bytes("a/b/data.bin") == data
    store.write_bytes("a/b/data.bin", b"replaced")
    assert store.read_bytes("a/b/data.bin") == b"replaced"
    store.write_bytes("empty", b"")
    assert store.read_bytes("empty") == b""


def test_exists(backend: Backend) -> None:
    store = backend.store
    assert not store.exists("a/b.csv")
    store.write_bytes("a/b.csv", b"1")
    assert store.exists("a/b.csv")
    assert not store.exists("a/b.cs")
    assert not store.exists("a")  # a "folder" is not an object
    backend.write_outside("a/c.csv", b"same key, but outside the store root")
    assert not store.exists("a/c.csv")


def test_read_missing_raises(backend: Backend) -> None:
    with pytest.raises((FileNotFoundError, ClientError)):
        backend.store.read_bytes("missing.csv")


def test_list_empty_store(backend: Backend) -> None:
    # Its root does not exist yet, but things do next to it.
    for path, data in OUTSIDE.items():
        backend.write_outside(path, data)
    assert backend.store.list() == []
    assert backend.store.list("orders/") == []


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "orders",
        "orders/",
        "orders/platform=didi",
        "orders/platform=didi/",
        "orders/platform=d",
        "orders/platform=didi/date=2025-09-01/",
        HIVE_KEY,
        "riders/",
        "nothing/",
        "nothing",
    ],
)
def test_list_with_prefix(backend: Backend, prefix: str) -> None:
    for key, data in KEYS.items():
        backend.store.write_bytes(key, data)
    for path, data in OUTSIDE.items():
        backend.write_outside(path, data)

    listed = backend.store.list(prefix)

    # A plain string prefix (as in S3), keys relative to the store root, sorted.
    expected = sorted(key for key in KEYS if key.startswith(prefix))
    assert [o.key for o in listed] == expected
    assert listed == [StoredObject(key, len(KEYS[key])) for key in expected]


def test_list_hive_partition(backend: Backend) -> None:
    for key, data in KEYS.items():
        backend.store.write_bytes(key, data)
    assert [o.key for o in backend.store.list("orders/platform=didi/")] == [
        "orders/platform=didi/date=2025-09-01/a.csv.gz",
        "orders/platform=didi/date=2025-09-02/b.csv.gz",
    ]


def test_put_file(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "upload.csv.gz"
    source.write_bytes(b"header\nrow\n")
    backend.store.put_file(HIVE_KEY, source)
    assert backend.store.read_bytes(HIVE_KEY) == b"header\nrow\n"
    assert source.read_bytes() == b"header\nrow\n"  # the source is left alone


def test_put_file_multipart(backend: Backend, tmp_path: Path) -> None:
    # Above boto3's 8 MiB multipart threshold: several parts, each with a checksum.
    data = os.urandom(9 * 1024 * 1024 + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    backend.store.put_file("big/big.bin", source)
    assert backend.store.read_bytes("big/big.bin") == data
    assert backend.store.list("big/") == [StoredObject("big/big.bin", len(data))]


def test_local_copy(backend: Backend) -> None:
    backend.store.write_bytes(HIVE_KEY, b"gzip bytes")
    with backend.store.local_copy(HIVE_KEY) as path:
        assert path.is_file()
        assert path.read_bytes() == b"gzip bytes"
        assert path.name.endswith(".csv.gz")  # readers pick the codec by suffix
    if backend.kind == "s3":
        assert not path.exists()
    else:
        assert path.exists()  # the store's own file, not a copy


@pytest.mark.s3
def test_s3_local_copy_temp_file_removed_on_error(s3_bucket_env: tuple[str, S3Server]) -> None:
    bucket, _server = s3_bucket_env
    store = open_store(f"s3://{bucket}/{PREFIX}")
    store.write_bytes("a.csv", b"x")
    with pytest.raises(RuntimeError), store.local_copy("a.csv") as path:
        assert path.read_bytes() == b"x"
        raise RuntimeError("reader failed")
    assert not path.exists()


def test_hive_keys_with_equals(backend: Backend) -> None:
    store = backend.store
    store.write_bytes(HIVE_KEY, b"1,2\n")
    assert store.exists(HIVE_KEY)
    assert store.read_bytes(HIVE_KEY) == b"1,2\n"
    assert [o.key for o in store.list("orders/platform=didi/date=2025-09-01/")] == [HIVE_KEY]
    # The '=' is stored as-is, not percent-encoded: the object lands at its key.
    if backend.server is not None:
        on_disk = backend.server.root / str(backend.bucket) / PREFIX / HIVE_KEY
    else:
        assert backend.container is not None
        on_disk = backend.container / PREFIX / HIVE_KEY
    assert on_disk.read_bytes() == b"1,2\n"


@pytest.mark.s3
def test_wrong_secret_is_refused(s3_bucket_env: tuple[str, S3Server]) -> None:
    bucket, server = s3_bucket_env
    good = server.client()
    good.put_object(Bucket=bucket, Key="k", Body=b"v")

    bad = server.client(secret_key=server.secret_key + "x")
    with pytest.raises(ClientError) as listing:
        bad.list_objects_v2(Bucket=bucket)
    assert listing.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as writing:
        bad.put_object(Bucket=bucket, Key="k", Body=b"tampered")
    assert writing.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    unknown = server.client(access_key="NOSUCHKEY0000000")
    with pytest.raises(ClientError) as who:
        unknown.get_object(Bucket=bucket, Key="k")
    assert who.value.response["Error"]["Code"] == "InvalidAccessKeyId"

    assert good.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


@pytest.mark.s3
def test_store_with_wrong_secret_in_environment_fails(
    s3_bucket_env: tuple[str, S3Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, server = s3_bucket_env
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", new_boto3_session())  # it caches credentials
    store = open_store(f"s3://{bucket}/{PREFIX}")
    with pytest.raises(ClientError) as error:
        store.write_bytes("k", b"v")
    assert error.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert not (server.root / bucket / PREFIX / "k").exists()
