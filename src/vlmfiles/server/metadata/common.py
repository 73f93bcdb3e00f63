"""What both metadata backends share: every operation that is one ``queries`` or
``blob_queries`` function run in a transaction of its own. A backend says how to run them
(``_call``, ``_read``, ``_probe``) and implements the operations whose shape depends on that."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncEngine

from . import blob_queries, queries
from .records import FileRecord, IdTaken, UploadRecord, now_us
from .store import SortKey

T = TypeVar("T")


class SqlStore(ABC):
    engine: AsyncEngine

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def _call(self, fn: Callable[..., T], *args: Any, write: bool = False) -> T:
        """Run ``fn(conn, *args)`` in a transaction of its own."""

    @abstractmethod
    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the one-statement read ``fn(conn, *args)``."""

    @abstractmethod
    async def _probe(self, stmt: Any, params: dict[str, Any]) -> Any:
        """The first row of a prebuilt one-statement index probe (every request makes one)."""

    @abstractmethod
    async def _commit_upload(
        self,
        rec: FileRecord,
        commit_bytes: Callable[[], None] | None,
        data: bytes | None,
        key_hash: str | None,
    ) -> tuple[FileRecord, bool]:
        """``MetadataStore.commit_upload``, one transaction, the backend's way."""

    async def commit_upload(
        self,
        rec: FileRecord,
        commit_bytes: Callable[[], None] | None = None,
        *,
        data: bytes | None = None,
        key_hash: str | None = None,
    ) -> tuple[FileRecord, bool]:
        assert (commit_bytes is None) != (data is None), "the bytes: in the store, or here"
        try:
            return await self._commit_upload(rec, commit_bytes, data, key_hash)
        except sqlalchemy.exc.IntegrityError:
            # Two PUTs to one upload URL both commit under the upload's id: one wins.
            if await self.get_file(rec.tenant_id, rec.id) is not None:
                raise IdTaken(rec.id) from None
            raise

    @abstractmethod
    async def release_blob(self, sha256: str, remove_bytes: Callable[[str], None]) -> bool: ...

    # Tenants and API keys ---------------------------------------------------------------

    async def create_key(self, tenant_name: str) -> tuple[str, str]:
        return await self._call(queries.create_key, tenant_name, write=True)

    async def live_key(self, key_hash: str) -> tuple[str, str] | None:
        row = await self._probe(queries.LIVE_KEY, {"key_hash": key_hash})
        return None if row is None else (row[0], row[1])

    async def tenant_for_key_hash(self, key_hash: str) -> str | None:
        key = await self.live_key(key_hash)
        return None if key is None else key[0]

    async def key_is_live(self, tenant_id: str, key_id: str) -> bool:
        row = await self._probe(queries.KEY_BY_ID, {"tenant_id": tenant_id, "key_id": key_id})
        return row is not None

    async def revoke_key(self, key_or_prefix: str) -> int:
        """Revoke the key given in full, or every key starting with a 12-character prefix."""
        return await self._call(queries.revoke_key, key_or_prefix, write=True)

    async def list_keys(self) -> list[dict[str, Any]]:
        return await self._call(queries.list_keys)

    async def count_active_keys(self) -> int:
        return await self._call(queries.count_active_keys)

    # Files ------------------------------------------------------------------------------

    async def get_file(self, tenant_id: str, file_id: str) -> FileRecord | None:
        row = await self._probe(queries.GET_FILE, {"tenant_id": tenant_id, "file_id": file_id})
        return None if row is None else queries.file_record(row)

    async def find_by_hash(
        self,
        tenant_id: str,
        *,
        md5: str | None = None,
        sha256: str | None = None,
        purpose: str | None = None,
    ) -> FileRecord | None:
        return await self._read(queries.find_by_hash, tenant_id, md5, sha256, purpose)

    async def list_files(
        self,
        tenant_id: str,
        *,
        purpose: str | None,
        skip: int,
        limit: int,
        after: SortKey | None = None,
    ) -> list[FileRecord]:
        return await self._read(queries.list_files, tenant_id, purpose, skip, limit, after)

    async def delete_file(self, tenant_id: str, file_id: str) -> FileRecord | None:
        return await self._call(queries.delete_file, tenant_id, file_id, write=True)

    # Blobs ------------------------------------------------------------------------------

    async def blob_data(self, sha256: str) -> bytes | None:
        """A small blob's bytes, if the database holds them (else they are in the store)."""
        return await self._read(blob_queries.get_blob_data, sha256)

    async def blob_data_sizes(self) -> dict[str, int]:
        return await self._call(blob_queries.blob_data_sizes)

    async def set_md5(self, sha256: str, md5: str) -> None:
        await self._call(blob_queries.set_md5, sha256, md5, write=True)

    async def pending_md5(
        self,
        tenant_id: str | None = None,
        *,
        limit: int = 100,
        older_than_seconds: float | None = None,
    ) -> list[str]:
        before = None if older_than_seconds is None else now_us() - int(older_than_seconds * 1e6)
        return await self._call(blob_queries.pending_md5, tenant_id, limit, before)

    async def unreferenced_blobs(self) -> list[str]:
        return await self._call(blob_queries.unreferenced_blobs)

    async def blob_rows(self) -> list[tuple[str, str | None, int]]:
        return await self._call(blob_queries.blob_rows)

    # Presigned uploads ------------------------------------------------------------------

    async def create_upload(self, rec: UploadRecord) -> None:
        await self._call(blob_queries.create_upload, rec, write=True)

    async def get_upload(self, tenant_id: str, upload_id: str) -> UploadRecord | None:
        return await self._read(blob_queries.get_upload, tenant_id, upload_id)

    async def complete_upload(self, upload_id: str, file_id: str) -> bool:
        """Mark the upload done; False if another request completed it first."""
        return await self._call(blob_queries.complete_upload, upload_id, file_id, write=True)

    async def fail_upload(self, upload_id: str, status: int, message: str) -> bool:
        return await self._call(blob_queries.fail_upload, upload_id, status, message, write=True)

    async def expired_uploads(self, now: int) -> list[UploadRecord]:
        return await self._call(blob_queries.expired_uploads, now)

    async def delete_upload(self, upload_id: str) -> None:
        await self._call(blob_queries.delete_upload, upload_id, write=True)
