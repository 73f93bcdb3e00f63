"""Blob stores: pick one from a storage URL (``file:///path`` or ``s3://bucket?...``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .base import (
    BlobNotFound,
    BlobStore,
    BlobWriter,
    PresignedBlobStore,
    StoreBusy,
    is_hex_digest,
)

__all__ = [
    "BlobNotFound",
    "BlobStore",
    "BlobWriter",
    "PresignedBlobStore",
    "StoreBusy",
    "is_hex_digest",
    "open_blob_store",
]


def open_blob_store(url: str) -> BlobStore:
    parts = urlsplit(url)
    if parts.scheme == "file":
        from .local import LocalBlobStore

        direct = parse_qs(parts.query).get("direct", ["true"])[-1].lower()
        if direct not in ("true", "false"):
            raise ValueError(f"storage URL option direct={direct!r}: use true or false")
        return LocalBlobStore(Path(unquote(parts.path)), direct=direct == "true")
    if parts.scheme == "s3":
        from .s3 import S3BlobStore

        return S3BlobStore.from_url(url)
    raise ValueError(
        f"unsupported storage URL {url!r}: use file:///PATH or s3://BUCKET?endpoint=URL"
    )
