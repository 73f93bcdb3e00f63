"""The metadata store: what the service asks of the database, and how to open one.

``MetadataStore`` is the contract; each database has its module (``sqlite.py``,
``postgres.py``), both built on ``common.SqlStore``, which holds what they share: every
statement is a function in ``queries.py`` or ``blob_queries.py``, and most operations are one such function run
in a transaction of its own. The backends differ in how they run statements, and in the
few operations whose shape depends on that (an upload's commit, releasing a blob). One
suite, ``tests/metadata/``, runs against both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from ..settings import DATABASE_POOL_SIZE
from .engines import is_sqlite
from .records import FileRecord, IdTaken, RevokedKey, UploadRecord, now_us

__all__ = [
    "FileRecord",
    "IdTaken",
    "MetadataStore",
    "RevokedKey",
    "UploadRecord",
    "now_us",
    "open_metadata_store",
]

# A listing's sort key: (created_us, id), newest first.
SortKey = tuple[int, str]


class MetadataStore(Protocol):
    """Tenants, keys, file records, blob references and pending uploads."""

    engine: AsyncEngine  # for migrations and tools

    async def close(self) -> None: ...

    # Tenants and API keys
    async def create_key(self, tenant_name: str) -> tuple[str, str]:
        """A new API key for ``tenant_name`` (created if new): ``(key, tenant_id)``."""
        ...

    async def live_key(self, key_hash: str) -> tuple[str, str] | None:
        """``(tenant_id, key_id)`` of the live key whose ``security.hash_api_key`` is
        ``key_hash``, else None."""
        ...

    async def tenant_for_key_hash(self, key_hash: str) -> str | None: ...

    async def key_is_live(self, tenant_id: str, key_id: str) -> bool:
        """Whether ``key_id`` names a live key of ``tenant_id`` (signed URLs die with it)."""
        ...

    async def revoke_key(self, key_or_prefix: str) -> int: ...
    async def list_keys(self) -> list[dict[str, Any]]: ...
    async def count_active_keys(self) -> int: ...

    # Files
    async def get_file(self, tenant_id: str, file_id: str) -> FileRecord | None: ...

    async def find_by_hash(
        self,
        tenant_id: str,
        *,
        md5: str | None = None,
        sha256: str | None = None,
        purpose: str | None = None,
    ) -> FileRecord | None: ...

    async def list_files(
        self,
        tenant_id: str,
        *,
        purpose: str | None,
        skip: int,
        limit: int,
        after: SortKey | None = None,
    ) -> list[FileRecord]:
        """Newest first; ``after`` continues below that sort key (its file may be gone)."""
        ...

    async def commit_upload(
        self,
        rec: FileRecord,
        commit_bytes: Callable[[], None] | None = None,
        *,
        data: bytes | None = None,
        key_hash: str | None = None,
    ) -> tuple[FileRecord, bool]:
        """Make an upload's bytes and record durable together: ``(record, created)``.

        One transaction: lock (or create) the blob row; if the tenant has these bytes for
        this purpose already, return that record (``created`` False); else keep the bytes
        (``data`` as a row, or ``commit_bytes()`` into the blob store) and insert ``rec``.
        Raises ``RevokedKey`` (nothing written) if ``key_hash`` is given and not a live
        key's, and ``IdTaken`` if ``rec.id`` is another record's id already."""
        ...

    async def delete_file(self, tenant_id: str, file_id: str) -> FileRecord | None: ...

    # Blobs
    async def blob_data(self, sha256: str) -> bytes | None: ...
    async def blob_data_sizes(self) -> dict[str, int]: ...
    async def set_md5(self, sha256: str, md5: str) -> None: ...

    async def pending_md5(
        self,
        tenant_id: str | None = None,
        *,
        limit: int = 100,
        older_than_seconds: float | None = None,
    ) -> list[str]: ...

    async def release_blob(self, sha256: str, remove_bytes: Callable[[str], None]) -> bool:
        """Remove the blob if no file references it, its bytes inside the transaction that
        holds its row's lock (so a concurrent commit of the same bytes waits); True if so."""
        ...

    async def unreferenced_blobs(self) -> list[str]: ...
    async def blob_rows(self) -> list[tuple[str, str | None, int]]: ...

    # Presigned uploads
    async def create_upload(self, rec: UploadRecord) -> None: ...
    async def get_upload(self, tenant_id: str, upload_id: str) -> UploadRecord | None: ...
    async def complete_upload(self, upload_id: str, file_id: str) -> bool: ...
    async def fail_upload(self, upload_id: str, status: int, message: str) -> bool: ...
    async def expired_uploads(self, now: int) -> list[UploadRecord]: ...
    async def delete_upload(self, upload_id: str) -> None: ...


def open_metadata_store(url: str, *, pool_size: int = DATABASE_POOL_SIZE) -> MetadataStore:
    """The store for a database URL: ``sqlite:///PATH`` or ``postgresql://...``."""
    if is_sqlite(url):
        from .sqlite import SqliteStore

        return SqliteStore(url)
    from .postgres import PostgresStore

    return PostgresStore(url, pool_size=pool_size)
