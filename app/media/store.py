"""Where media files live: a folder under DATA_DIR by default, an S3-compatible bucket when configured.

Two methods, bytes in and out: files are capped at MEDIA_MAX_BYTES (16 MiB by default), which a worker
holds in memory without trouble, and a key is written once and never changed (`{restaurant}/{media}.{ext}`),
so there is no partial-update case to handle. A missing object raises `MediaMissing`.

S3 goes through boto3, the maintained client, in a worker thread (`asyncio.to_thread`): its calls
block, and the event loop must not.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from app.settings import Settings


class MediaMissing(Exception):
    """The store has no object under this key (deleted by hand, or another store configured)."""


class MediaStore(Protocol):
    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...


class LocalMediaStore:
    """Files under `root`, written to a temporary name and renamed: a reader never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"media key {key!r} leaves the media folder")
        return path

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._put, self._path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise MediaMissing(key) from None


class S3MediaStore:
    """Objects in `bucket` under `prefix`, through one boto3 client (thread-safe, as boto3 documents)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "media/",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        import boto3  # only when configured: the default setup never loads it

        self.bucket, self.prefix = bucket, prefix
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=self.prefix + key,
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, self.prefix + key)

    def _get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except self._client.exceptions.NoSuchKey:
            raise MediaMissing(key) from None
        body: bytes = response["Body"].read()
        return body


def store_from_settings(settings: Settings) -> MediaStore:
    """S3 when MEDIA_S3_BUCKET is set, else DATA_DIR/media."""
    if settings.media_s3_bucket:
        return S3MediaStore(
            settings.media_s3_bucket,
            prefix=settings.media_s3_prefix,
            endpoint_url=settings.media_s3_endpoint_url,
            region=settings.media_s3_region,
            access_key_id=settings.media_s3_access_key_id,
            secret_access_key=settings.media_s3_secret_access_key,
        )
    return LocalMediaStore(settings.data_dir / "media")
