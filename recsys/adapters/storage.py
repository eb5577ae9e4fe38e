"""Object storage: a local folder by default, S3 (AWS or LocalStack) by URI.

The event log and the training artefacts both sit on this small interface, so
the same code runs on a laptop (``data/events``) and on Lambda
(``s3://bucket/events``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol


class ObjectStore(Protocol):
    uri: str

    def put(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        """Write an object atomically: readers see all of it or none of it."""

    def get(self, key: str) -> bytes:
        """Read an object; raises KeyError if it does not exist."""

    def list_keys(self, prefix: str = "") -> list[str]:
        """Keys under prefix, sorted."""

    def delete(self, keys: list[str]) -> None:
        """Delete keys; missing keys are ignored."""


class LocalStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.uri = str(self.root)
        self._resolved_root = str(self.root.resolve())

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not str(path).startswith(self._resolved_root):
            raise ValueError(f"key escapes the store: {key!r}")
        return path

    def put(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file, fsync, then rename: a crash leaves either
        # the old state or the complete new object, never a torn one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise KeyError(key) from exc

    def list_keys(self, prefix: str = "") -> list[str]:
        # Walk only the folder the prefix names, as S3 lists only under a
        # prefix: listing one date partition must not walk the whole log.
        folder = prefix.rpartition("/")[0]
        base = self._path(folder) if folder else self.root
        keys = []
        for dirpath, _, filenames in os.walk(base):
            relative = os.path.relpath(dirpath, base)
            parent = folder if relative == "." else f"{folder}/{relative}".lstrip("/")
            for name in filenames:
                key = f"{parent}/{name}" if parent else name
                if key.startswith(prefix) and not name.startswith(".tmp-"):
                    keys.append(key.replace(os.sep, "/"))
        return sorted(keys)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)


class S3Store:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.uri = f"s3://{bucket}/{self.prefix}"

    def put(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        # A single PUT is atomic in S3: readers never see a partial object.
        self.client.put_object(
            Bucket=self.bucket, Key=self.prefix + key, Body=body, ContentType=content_type
        )

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except self.client.exceptions.NoSuchKey as exc:
            raise KeyError(key) from exc
        body: bytes = response["Body"].read()
        return body

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix) :]

    def list_keys(self, prefix: str = "") -> list[str]:
        return sorted(self._iter_keys(prefix))

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            if chunk:
                self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self.prefix + k} for k in chunk], "Quiet": True},
                )


def s3_client(endpoint_url: str | None = None, region: str = "us-east-1") -> Any:
    import boto3
    from botocore.config import Config

    # Short timeouts and few retries: a dead endpoint must fail fast, not hang a job.
    config = Config(
        connect_timeout=3, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"}
    )
    kwargs: dict[str, Any] = {"region_name": region, "config": config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
        # LocalStack accepts any credentials; only set them if none are configured.
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs["aws_access_key_id"] = "test"
            kwargs["aws_secret_access_key"] = "test"
    return boto3.client("s3", **kwargs)


def open_store(
    uri: str, *, endpoint_url: str | None = None, region: str = "us-east-1"
) -> ObjectStore:
    """``s3://bucket/prefix`` -> S3Store; anything else is a local folder."""
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {uri!r}")
        return S3Store(s3_client(endpoint_url, region), bucket, prefix)
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    return LocalStore(uri)
