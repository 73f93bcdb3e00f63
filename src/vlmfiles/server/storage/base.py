"""The blob store protocol: where file bytes live.

Blobs are content-addressed: a blob's key is the sha256 hex of its bytes, so the same bytes
are stored once whatever the number of files (and tenants) that point at them.

Every method is synchronous and blocking: the server calls them from worker threads
(``anyio.to_thread``), so a backend may use a blocking client (the filesystem, boto3).

An upload is written in two steps, so a blob never appears half-written under its key:

1. ``writer = store.writer()`` stages the bytes somewhere private (a temp file, a temporary
   S3 object or multipart upload) as they arrive: ``writer.write(chunk)``.
2. ``writer.commit(key)`` makes them durable and visible under ``key`` (fsync + rename, S3
   copy...). Committing a key that already exists keeps the existing blob and discards the
   staged bytes (same key, same bytes). ``writer.abort()`` discards them instead.

A writer that is neither committed nor aborted (the process died) leaves staging garbage,
which ``sweep_staging()`` removes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable


class BlobWriter(Protocol):
    """Stages one blob: ``write``, then ``prepare`` outside any lock, then ``commit`` (quick:
    the metadata store holds a lock around it) or ``abort``."""

    @property
    def prepared(self) -> bool:
        """``prepare`` has run (or there is nothing for it to do)."""

    def prepare(self) -> None:
        """Make the staged bytes durable, so that ``commit`` is quick."""

    def expect(self, key: str) -> None:
        """Called before any byte when the client declared the bytes' sha256, so a store can
        stage them under their final key (``commit`` is still called with the key the bytes
        really hash to, and only when it matches). May do nothing."""

    def write(self, data: bytes) -> None:
        """Append ``data`` to the staged blob."""

    def commit(self, key: str) -> None:
        """Make the staged bytes durable under ``key``; keep an existing blob of that key."""

    def abort(self) -> None:
        """Discard the staged bytes. Safe to call twice, or after ``commit``."""


class BlobStore(Protocol):
    # True when its writers gain from ``expect`` (the S3 store): /health tells the SDK,
    # which then hashes a large file before sending it rather than while.
    wants_sha256_first: bool

    def writer(self) -> BlobWriter:
        """Start staging a new blob."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """The stored size in bytes, or None if there is no such blob."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``[start, end)`` (``end=None``: to the end) in chunks.

        Raises ``BlobNotFound`` if there is no such blob."""

    def delete(self, key: str) -> None:
        """Remove a blob; no error if it is already gone."""

    def keys(self) -> Iterator[str]:
        """Every committed blob key (for fsck and the orphan sweep)."""

    def sweep_staging(self, older_than_seconds: float) -> int:
        """Remove staged bytes left by dead writers; return how many were removed."""

    def read_once(self, key: str) -> Iterator[bytes | memoryview]:
        """``read`` for a blob read once, whole (the md5 fill): may bypass the page cache;
        chunks are valid until the next one is asked for."""

    def close(self) -> None:
        """Release clients and pools."""


@runtime_checkable
class PresignedBlobStore(BlobStore, Protocol):
    """A store clients PUT to directly, by a URL it signs (S3): the bytes land under the
    upload's id, and the server hashes, checks and commits them at verify-upload."""

    def presign_put(self, upload_id: str, expires_seconds: int, content_type: str | None) -> str:
        """A URL to PUT the upload's bytes to, without credentials."""

    def incoming_size(self, upload_id: str) -> int | None:
        """The size of the bytes PUT for the upload, or None if none were."""

    def read_incoming(self, upload_id: str) -> Iterator[bytes]: ...

    def commit_incoming(self, upload_id: str, key: str) -> None:
        """Move the upload's bytes under the blob ``key`` (a server-side copy)."""

    def delete_incoming(self, upload_id: str) -> None: ...

    def sweep_incoming(self, older_than_seconds: float) -> int:
        """Remove what was PUT and never verified, once no URL can write it any more."""


class BlobNotFound(Exception):
    pass


class StoreBusy(TimeoutError):
    """The store has no room for more bytes in flight right now (S3 part memory); retry."""


_HEX = frozenset("0123456789abcdef")


def is_hex_digest(value: str, *lengths: int) -> bool:
    """``value`` is lowercase hex of one of ``lengths`` (64: a sha256, the blob key; 32: md5)."""
    return len(value) in lengths and _HEX.issuperset(value)
