"""Object store: a local folder or an S3 bucket (boto3), behind one interface.

Every location in the system is a URL: ``s3://bucket/prefix`` or a plain local path.
Keys are always ``/``-separated and relative to the store's root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

_CHUNK = 8 * 1024 * 1024


def _publishable(path: str) -> None:
    """mkstemp makes 0600 files; published files get the usual mode (umask applies)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    #: What changes when the object is replaced (S3: ETag; local: modification time
    #: in ns); not part of equality.
    version: str = field(default="", compare=False)


class Store(Protocol):
    url: str

    def list(self, prefix: str = "") -> list[StoredObject]: ...
    def exists(self, key: str) -> bool: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def local_copy(self, key: str) -> contextlib.AbstractContextManager[Path]: ...
    def put_file(self, key: str, path: Path) -> None: ...


def open_store(url: str) -> Store:
    """Return the store for a URL: ``s3://bucket/prefix`` or a local path."""
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://"):].partition("/")
        return S3Store(bucket, prefix.strip("/"))
    return LocalStore(Path(url))


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def list(self, prefix: str = "") -> list[StoredObject]:
        # A prefix is the start of a key, as in S3 ("orders" also matches "orders2/x"):
        # walk the folder that holds every match, never one above the root.
        folder = self._path(prefix) if prefix.endswith("/") or not prefix else self._path(prefix).parent
        if not folder.exists():
            return []
        found = []
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if key.startswith(prefix) and not name.startswith(".tmp-"):
                    stat = full.stat()
                    found.append(StoredObject(key, stat.st_size, f"mtime:{stat.st_mtime_ns}"))
        return sorted(found, key=lambda o: o.key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        self._atomically(key, lambda handle: handle.write(data))

    def put_file(self, key: str, path: Path) -> None:
        def copy(handle: BinaryIO) -> None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, handle, _CHUNK)

        self._atomically(key, copy)

    def _atomically(self, key: str, write: Callable[[BinaryIO], object]) -> None:
        """Write to a temporary name in the target's folder, then rename: readers
        see the old file or the new one, never half of one."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            _publishable(tmp)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        yield self._path(key)


class S3Store:
    """An S3 bucket (or a prefix of one). Honours ``AWS_ENDPOINT_URL``. The endpoint,
    keys and region are settings (``claims.settings.setting``): the environment as
    boto3 reads it, else a registered source (inside Airflow the connection
    ``claims_object_store``), else boto3's own chain."""

    def __init__(self, bucket: str, prefix: str = "") -> None:
        import boto3
        from botocore.config import Config

        from claims.settings import setting

        self.bucket = bucket
        self.prefix = prefix
        self.url = f"s3://{bucket}/{prefix}".rstrip("/")
        self._client = boto3.client(
            "s3",
            endpoint_url=setting("AWS_ENDPOINT_URL"),
            aws_access_key_id=setting("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=setting("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=setting("AWS_SESSION_TOKEN"),
            region_name=setting("AWS_DEFAULT_REGION"),
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def list(self, prefix: str = "") -> list[StoredObject]:
        paginator = self._client.get_paginator("list_objects_v2")
        full_prefix = self._key(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        found = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            for item in page.get("Contents", []):
                found.append(StoredObject(item["Key"][strip:], int(item["Size"]), f"etag:{item.get('ETag', '')}"))
        return sorted(found, key=lambda o: o.key)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def read_bytes(self, key: str) -> bytes:
        response = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        return bytes(response["Body"].read())

    def write_bytes(self, key: str, data: bytes) -> None:
        # A single PUT is atomic in S3: readers see the old object or the new one.
        self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self._client.upload_file(str(path), self.bucket, self._key(key))

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        suffix = "".join(Path(key).suffixes[-2:])
        fd, tmp = tempfile.mkstemp(prefix="claims-s3-", suffix=suffix)
        os.close(fd)
        try:
            self._client.download_file(self.bucket, self._key(key), tmp)
            yield Path(tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
