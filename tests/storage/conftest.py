"""Fixtures for the blob store suite: one ``store`` per backend.

The ``seaweed`` fixture (a real SeaweedFS for the whole session) lives in the top-level
``tests/conftest.py``, so the server tests and this suite share one instance; it is built
on ``tests.support.seaweed.start_seaweed``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from vlmfiles.server.storage.local import LocalBlobStore

MiB = 1024 * 1024
S3_PART = 5 * MiB  # S3's smallest part, so multi-part bodies stay small and quick
BUCKET = "blobstore-suite"


def open_s3(seaweed, monkeypatch: pytest.MonkeyPatch, **options: str):
    """An S3 store on the session's SeaweedFS, under a prefix of its own."""
    from vlmfiles.server.storage.s3 import S3BlobStore

    for k, v in seaweed.env().items():
        monkeypatch.setenv(k, v)
    url = seaweed.storage_url(BUCKET, prefix=f"t-{uuid.uuid4().hex[:12]}")
    url += "&part_size_mb=5" + "".join(f"&{k}={v}" for k, v in options.items())
    return S3BlobStore.from_url(url)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> Iterator:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    s3 = open_s3(request.getfixturevalue("seaweed"), monkeypatch)
    yield s3
    s3.close()


@pytest.fixture
def s3_store(seaweed, monkeypatch) -> Iterator:
    s3 = open_s3(seaweed, monkeypatch)
    yield s3
    s3.close()


def staging(store) -> list[str]:
    """What a backend holds in staging: temp files, or staged objects and multipart uploads."""
    if isinstance(store, LocalBlobStore):
        return sorted(p.name for p in store.staging.iterdir())
    return sorted(store.staging_entries())


def part_size(store) -> int:
    return getattr(store, "part_size", S3_PART)
