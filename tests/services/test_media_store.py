"""The media stores: a folder under DATA_DIR, and an S3 bucket spoken to over real HTTP (moto's
server mode: an S3-compatible server on a local port, as MinIO or R2 would be)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.media.store import LocalMediaStore, MediaMissing, S3MediaStore, store_from_settings
from app.settings import Settings


async def test_the_local_store_keeps_files_under_its_folder(tmp_path: Path):
    store = LocalMediaStore(tmp_path / "media")
    await store.put("rst_1/med_1.jpg", b"photo", content_type="image/jpeg")
    assert await store.get("rst_1/med_1.jpg") == b"photo"
    assert (tmp_path / "media" / "rst_1" / "med_1.jpg").read_bytes() == b"photo"
    with pytest.raises(MediaMissing):
        await store.get("rst_1/med_2.jpg")
    with pytest.raises(ValueError, match="leaves the media folder"):
        await store.put("../secret_key", b"x", content_type="text/plain")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def test_the_s3_store_keeps_files_in_the_bucket(s3_endpoint: str, settings: Settings):
    configured = settings.model_copy(
        update={
            "media_s3_bucket": "sufrah-media",
            "media_s3_endpoint_url": s3_endpoint,
            "media_s3_region": "us-east-1",
            "media_s3_access_key_id": "test",
            "media_s3_secret_access_key": "test",
        }
    )
    store = store_from_settings(configured)
    assert isinstance(store, S3MediaStore)
    store._client.create_bucket(Bucket="sufrah-media")
    await store.put("rst_1/med_1.pdf", b"%PDF-1.4", content_type="application/pdf")
    assert await store.get("rst_1/med_1.pdf") == b"%PDF-1.4"
    head = store._client.head_object(Bucket="sufrah-media", Key="media/rst_1/med_1.pdf")
    assert head["ContentType"] == "application/pdf"  # under MEDIA_S3_PREFIX, with its type
    with pytest.raises(MediaMissing):
        await store.get("rst_1/nothing.pdf")
