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
from typing import Protocol


class BlobWriter(Protocol):
    """Optionally also ``prepare()``: make the staged bytes durable before ``commit``, so
    that ``commit`` (called while the metadata store holds a lock) is quick, with a
    ``prepared`` property saying it has run; and
    ``expect(key)``: called before any byte when the client declared the bytes' sha256, so a
    store can stage them under their final key (``commit`` is still called with the key
    the bytes really hash to, and only when it matches)."""

    def write(self, data: bytes) -> None:
        """Append ``data`` to the staged blob."""

    def commit(self, key: str) -> None:
        """Make the staged bytes durable under ``key``; keep an existing blob of that key."""

    def abort(self) -> None:
        """Discard the staged bytes. Safe to call twice, or after ``commit``."""


class BlobStore(Protocol):
    """Optional attribute ``wants_sha256_first``: True when its writers gain from ``expect``
    (the S3 store); the server's /health tells the SDK, which then hashes a large file
    before sending it rather than while."""

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


class BlobNotFound(Exception):
    pass


class StoreBusy(TimeoutError):
    """The store has no room for more bytes in flight right now (S3 part memory); retry."""


_HEX = frozenset("0123456789abcdef")


def is_hex_digest(value: str, *lengths: int) -> bool:
    """``value`` is lowercase hex of one of ``lengths`` (64: a sha256, the blob key; 32: md5)."""
    return len(value) in lengths and _HEX.issuperset(value)
