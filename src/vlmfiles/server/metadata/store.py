"""The metadata store: tenants, keys, file records, blob references, pending uploads.

All SQL of the server lives here (handlers and services never write SQL). It runs on
SQLAlchemy's async engine over aiosqlite (embedded default) or asyncpg (PostgreSQL).

SQLite write transactions start with ``BEGIN IMMEDIATE``: they take the write lock up front,
so two writers queue on ``busy_timeout`` instead of failing on a lock upgrade.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, event, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..security import hash_api_key, new_api_key, new_tenant_id
from .tables import api_keys, blob_pins, blobs, files, tenants, uploads


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class FileRecord:
    id: str
    tenant_id: str
    sha256: str
    md5: str
    bytes: int
    purpose: str
    filename: str
    content_type: str
    created_us: int


@dataclass(frozen=True)
class UploadRecord:
    id: str
    tenant_id: str
    filename: str
    purpose: str
    content_type: str
    created_us: int
    expires_us: int
    file_id: str | None


def async_database_url(url: str) -> str:
    """``sqlite:///x`` → ``sqlite+aiosqlite:///x``; ``postgresql://`` → ``+asyncpg``."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+aiosqlite"):
        return str(u.set(drivername="sqlite+aiosqlite"))
    if u.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def create_engine(url: str) -> AsyncEngine:
    aurl = async_database_url(url)
    if aurl.startswith("sqlite"):
        engine = create_async_engine(aurl, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # a committed upload survives power loss
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("vlmfiles_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_async_engine(aurl, pool_size=10, max_overflow=20, pool_pre_ping=True)


class MetadataStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def from_url(cls, url: str) -> MetadataStore:
        return cls(create_engine(url))

    async def close(self) -> None:
        await self.engine.dispose()

    # Transactions -----------------------------------------------------------------------

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(vlmfiles_write=True)
            async with conn.begin():
                yield conn

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    # Tenants and API keys ---------------------------------------------------------------

    async def create_key(self, tenant_name: str) -> tuple[str, str]:
        """A new API key for ``tenant_name`` (created if new): ``(key, tenant_id)``."""
        key = new_api_key()
        async with self._write() as conn:
            await conn.execute(
                self._insert(tenants)
                .values(id=new_tenant_id(), name=tenant_name, created_us=now_us())
                .on_conflict_do_nothing(index_elements=["name"])
            )
            tenant_id = (
                await conn.execute(select(tenants.c.id).where(tenants.c.name == tenant_name))
            ).scalar_one()
            await conn.execute(
                insert(api_keys).values(
                    id="key_" + secrets.token_hex(8),
                    tenant_id=tenant_id,
                    key_hash=hash_api_key(key),
                    prefix=key[:12],
                    created_us=now_us(),
                )
            )
        return key, tenant_id

    async def tenant_for_key(self, key: str) -> str | None:
        async with self._read() as conn:
            row = await conn.execute(
                select(api_keys.c.tenant_id).where(
                    api_keys.c.key_hash == hash_api_key(key), api_keys.c.revoked_us.is_(None)
                )
            )
            return row.scalar_one_or_none()

    async def revoke_key(self, key_or_prefix: str) -> int:
        """Revoke the key given in full, or every key starting with a prefix of >= 12 chars."""
        cond = (
            api_keys.c.key_hash == hash_api_key(key_or_prefix)
            if len(key_or_prefix) > 16
            else api_keys.c.prefix == key_or_prefix[:12]
        )
        async with self._write() as conn:
            res = await conn.execute(
                update(api_keys)
                .where(cond, api_keys.c.revoked_us.is_(None))
                .values(revoked_us=now_us())
            )
            return res.rowcount

    async def list_keys(self) -> list[dict[str, Any]]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(
                    api_keys.c.prefix,
                    tenants.c.name.label("tenant"),
                    api_keys.c.created_us,
                    api_keys.c.revoked_us,
                )
                .join(tenants, tenants.c.id == api_keys.c.tenant_id)
                .order_by(api_keys.c.created_us)
            )
            return [dict(r._mapping) for r in rows]

    async def count_active_keys(self) -> int:
        async with self._read() as conn:
            q = select(func.count()).select_from(api_keys).where(api_keys.c.revoked_us.is_(None))
            return (await conn.execute(q)).scalar_one()

    # Files ------------------------------------------------------------------------------

    async def get_file(self, tenant_id: str, file_id: str) -> FileRecord | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(files).where(files.c.tenant_id == tenant_id, files.c.id == file_id)
                )
            ).first()
        return FileRecord(**row._mapping) if row else None

    async def find_by_hash(
        self,
        tenant_id: str,
        *,
        md5: str | None = None,
        sha256: str | None = None,
        purpose: str | None = None,
    ) -> FileRecord | None:
        q = select(files).where(files.c.tenant_id == tenant_id)
        if md5 is not None:
            q = q.where(files.c.md5 == md5)
        if sha256 is not None:
            q = q.where(files.c.sha256 == sha256)
        if purpose is not None:
            q = q.where(files.c.purpose == purpose)
        q = q.order_by(files.c.created_us.desc(), files.c.id.desc()).limit(1)
        async with self._read() as conn:
            row = (await conn.execute(q)).first()
        return FileRecord(**row._mapping) if row else None

    async def list_files(
        self,
        tenant_id: str,
        *,
        purpose: str | None,
        skip: int,
        limit: int,
        after: FileRecord | None = None,
    ) -> list[FileRecord]:
        """Newest first, ties broken by id; ``after`` continues below that record."""
        q = select(files).where(files.c.tenant_id == tenant_id)
        if purpose is not None:
            q = q.where(files.c.purpose == purpose)
        if after is not None:
            # A row-value comparison, so both databases seek the index to the cursor.
            q = q.where(tuple_(files.c.created_us, files.c.id) < tuple_(after.created_us, after.id))
        q = q.order_by(files.c.created_us.desc(), files.c.id.desc()).offset(skip).limit(limit)
        async with self._read() as conn:
            rows = await conn.execute(q)
            return [FileRecord(**r._mapping) for r in rows]

    async def pin_blob(self, sha256: str, md5: str, size: int) -> str:
        """Create the blob row if new and pin it, so no sweep removes the bytes while this
        upload commits them and creates its file record. Returns the pin id."""
        pin_id = "pin_" + secrets.token_hex(12)
        async with self._write() as conn:
            # DO UPDATE (a no-op update), not DO NOTHING: it locks an existing row, so a
            # concurrent release either finished first (and we insert the row anew) or
            # waits for our pin. DO NOTHING leaves the row unlocked: the release could
            # delete it before the pin's foreign key check (seen under test on PostgreSQL).
            stmt = self._insert(blobs).values(
                sha256=sha256, md5=md5, size=size, created_us=now_us()
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["sha256"], set_={"md5": stmt.excluded.md5}
                )
            )
            await conn.execute(
                insert(blob_pins).values(id=pin_id, sha256=sha256, created_us=now_us())
            )
        return pin_id

    async def unpin(self, pin_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(delete(blob_pins).where(blob_pins.c.id == pin_id))

    async def insert_file(
        self, rec: FileRecord, pin_id: str | None = None
    ) -> tuple[FileRecord, bool]:
        """Insert ``rec`` unless the tenant already has this content for this purpose.

        Returns ``(record, created)``: the new record, or the existing one. The unique
        constraint decides between concurrent identical uploads. The pin, if given, is
        dropped in the same transaction: from then on the file row holds the blob."""
        async with self._write() as conn:
            res = await conn.execute(
                self._insert(files)
                .values(**asdict(rec))
                .on_conflict_do_nothing(index_elements=["tenant_id", "sha256", "purpose"])
            )
            created = res.rowcount == 1
            if pin_id is not None:
                await conn.execute(delete(blob_pins).where(blob_pins.c.id == pin_id))
            if created:
                return rec, True
            row = (
                await conn.execute(
                    select(files).where(
                        files.c.tenant_id == rec.tenant_id,
                        files.c.sha256 == rec.sha256,
                        files.c.purpose == rec.purpose,
                    )
                )
            ).one()
            return FileRecord(**row._mapping), False

    async def delete_file(self, tenant_id: str, file_id: str) -> FileRecord | None:
        async with self._write() as conn:
            row = (
                await conn.execute(
                    select(files).where(files.c.tenant_id == tenant_id, files.c.id == file_id)
                )
            ).first()
            if row is None:
                return None
            await conn.execute(delete(files).where(files.c.id == file_id))
        return FileRecord(**row._mapping)

    async def release_blob(
        self, sha256: str, remove_bytes: Callable[[str], Awaitable[None]]
    ) -> bool:
        """Remove the blob if no file and no pin references it; True if removed.

        The bytes are removed *inside* the transaction that holds the blob row's lock
        (``FOR UPDATE``; SQLite's write lock), so an upload that pins the row concurrently
        either pins first (and we keep the blob) or waits until the row is gone (and then
        writes the bytes anew)."""
        async with self._write() as conn:
            locked = (
                await conn.execute(
                    select(blobs.c.sha256).where(blobs.c.sha256 == sha256).with_for_update()
                )
            ).first()
            if locked is None:
                return False
            refs = (
                await conn.execute(
                    select(func.count()).select_from(files).where(files.c.sha256 == sha256)
                )
            ).scalar_one()
            pins = (
                await conn.execute(
                    select(func.count()).select_from(blob_pins).where(blob_pins.c.sha256 == sha256)
                )
            ).scalar_one()
            if refs or pins:
                return False
            await remove_bytes(sha256)
            await conn.execute(delete(blobs).where(blobs.c.sha256 == sha256))
            return True

    # Presigned uploads ------------------------------------------------------------------

    async def create_upload(self, rec: UploadRecord) -> None:
        async with self._write() as conn:
            await conn.execute(insert(uploads).values(**asdict(rec)))

    async def get_upload(self, tenant_id: str, upload_id: str) -> UploadRecord | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(uploads).where(
                        uploads.c.tenant_id == tenant_id, uploads.c.id == upload_id
                    )
                )
            ).first()
        return UploadRecord(**row._mapping) if row else None

    async def complete_upload(self, upload_id: str, file_id: str) -> bool:
        """Mark the upload done; False if another request completed it first."""
        async with self._write() as conn:
            res = await conn.execute(
                update(uploads)
                .where(uploads.c.id == upload_id, uploads.c.file_id.is_(None))
                .values(file_id=file_id)
            )
            return res.rowcount == 1

    # Maintenance ------------------------------------------------------------------------

    async def stale_pins(self, older_than_us: int) -> int:
        async with self._write() as conn:
            res = await conn.execute(
                delete(blob_pins).where(blob_pins.c.created_us < older_than_us)
            )
            return res.rowcount

    async def unreferenced_blobs(self) -> list[str]:
        q = select(blobs.c.sha256).where(
            ~select(files.c.id).where(files.c.sha256 == blobs.c.sha256).exists(),
            ~select(blob_pins.c.id).where(blob_pins.c.sha256 == blobs.c.sha256).exists(),
        )
        async with self._read() as conn:
            return list((await conn.execute(q)).scalars())

    async def blob_keys(self) -> set[str]:
        async with self._read() as conn:
            return set((await conn.execute(select(blobs.c.sha256))).scalars())

    async def blob_rows(self) -> list[tuple[str, str, int]]:
        async with self._read() as conn:
            rows = await conn.execute(select(blobs.c.sha256, blobs.c.md5, blobs.c.size))
            return [tuple(r) for r in rows]

    async def expired_uploads(self, now: int) -> list[UploadRecord]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(uploads).where(uploads.c.expires_us < now, uploads.c.file_id.is_(None))
            )
            return [UploadRecord(**r._mapping) for r in rows]

    async def delete_upload(self, upload_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(delete(uploads).where(uploads.c.id == upload_id))
