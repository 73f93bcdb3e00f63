"""The metadata store: tenants, keys, file records, blob references, pending uploads.

All SQL lives in ``queries.py`` as plain functions over a SQLAlchemy ``Connection``; this
module runs them, one transaction each:

- PostgreSQL: the async engine (asyncpg), ``AsyncConnection.run_sync``; the statements
  of the hot paths (a small upload's commit, the API-key lookup, a file by id) straight
  on asyncpg, on a connection from the same pool (``asyncpg_direct``).
- SQLite: a synchronous engine (the stdlib driver), each transaction in one worker thread.
  Measured here, one write transaction through aiosqlite cost ~3.2 ms against ~0.4 ms for
  the same statements on the stdlib driver, because every cursor call is a thread hop;
  that capped 4 KiB uploads near 80/s. Writers queue on an asyncio lock in the process
  and ``BEGIN IMMEDIATE`` (with busy_timeout) across processes, never on SQLite's
  sleeping busy handler. The index probes requests make (the API-key lookup, a file by
  id) run on the event loop itself (``_probe``, ``_read_here``), see there.

An async engine exists for both databases too: migrations and tools use it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import anyio
import sqlalchemy
from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..settings import DATABASE_POOL_SIZE
from . import asyncpg_direct, queries
from .group_commit import GroupCommitter
from .records import FileRecord, RevokedKey, UploadRecord, now_us

__all__ = ["FileRecord", "MetadataStore", "UploadRecord", "now_us"]

T = TypeVar("T")


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


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # a committed upload survives power loss
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # each statement its own transaction (``MetadataStore._read_here``)
        immediate = options.get("vlmfiles_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# How long a request waits for a free PostgreSQL connection.
POOL_TIMEOUT_SECONDS = 30.0


def create_engine(url: str, pool_size: int = DATABASE_POOL_SIZE) -> AsyncEngine:
    """The async engine. On PostgreSQL its pool opens connections as they are needed, up to
    ``pool_size``, and keeps them: no overflow. SQLAlchemy closes an overflow connection when
    it is returned, so with more requests in flight than the pool's base size every request
    closed one connection and opened another (a PostgreSQL backend started each time): with
    a base of 10 and 20 overflow, 4 KiB uploads from 64 clients on the scale stack ran at
    352-398/s, half the 8-client rate, and with the connections kept (20, or 30), 641-849/s
    (20 no worse than 30 in alternating runs). A request past the pool waits for a
    connection instead, up to ``POOL_TIMEOUT_SECONDS`` (then a 503: errors.py)."""
    aurl = async_database_url(url)
    if aurl.startswith("sqlite"):
        engine = create_async_engine(aurl, connect_args={"timeout": 30})
        _sqlite_events(engine.sync_engine)
        return engine
    engine = create_async_engine(
        aurl, pool_size=pool_size, max_overflow=0, pool_timeout=POOL_TIMEOUT_SECONDS
    )
    _ping_if_idle(engine.sync_engine)
    return engine


# A pooled PostgreSQL connection idle this long is pinged before use.
IDLE_PING_SECONDS = 1.0


def _ping_if_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only if it sat idle for ``IDLE_PING_SECONDS``.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip that cost ~20% of
    the scale stack's 4 KiB uploads/s (two checkouts per upload). Its job is a database
    restarted while the server was idle: those connections are stale and are pinged here
    (the pool then replaces them; a test restarts the database's connections under an idle
    server). A connection used within the last second was alive then; if the database went
    down since, the request using it fails (a 503, retried by the SDKs) and the first
    disconnect invalidates the whole pool, as it would for the requests in flight anyway.
    SQLAlchemy has no idle threshold for its ping, so this is its documented "custom
    pessimistic ping" recipe (a checkout event raising DisconnectionError) with one."""

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("vlmfiles_used", 0.0) > IDLE_PING_SECONDS:
            try:
                dbapi_conn.ping()
            except Exception as exc:
                raise sqlalchemy.exc.DisconnectionError() from exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["vlmfiles_used"] = time.monotonic()


def create_sqlite_engine(url: str) -> Engine:
    u = make_url(url).set(drivername="sqlite")
    engine = sqlalchemy.create_engine(
        u, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=8, max_overflow=32
    )
    _sqlite_events(engine)
    return engine


class MetadataStore:
    def __init__(self, url: str, *, pool_size: int = DATABASE_POOL_SIZE) -> None:
        self.engine = create_engine(url, pool_size)
        self.dialect = self.engine.dialect.name
        # PostgreSQL: one turn per pooled connection, taken first come, first served (_turn).
        self._turns = anyio.Semaphore(pool_size, fast_acquire=True)
        self._sync: Engine | None = None
        self._writer: GroupCommitter | None = None
        self._reader: Connection | None = None  # the event loop's own (SQLite)
        if self.dialect == "sqlite":
            self._sync = create_sqlite_engine(url)
            self._writer = GroupCommitter(self._sync)

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = DATABASE_POOL_SIZE) -> MetadataStore:
        return cls(url, pool_size=pool_size)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._writer is not None:  # its connection first, then the pool it came from
            self._writer.close()
        await self.engine.dispose()
        if self._sync is not None:
            self._sync.dispose()

    # Running queries --------------------------------------------------------------------

    def _sync_call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """A read on a pooled SQLite connection (writes go through ``GroupCommitter``)."""
        assert self._sync is not None
        with self._sync.connect() as conn, conn.begin():
            return fn(conn, *args)

    async def _take_turn(self) -> None:
        """Hold one of the pool's connections' turns (PostgreSQL): every use of the pool
        takes one (``_connect``, ``_direct``), so the pool itself never has a
        request waiting.

        Why: SQLAlchemy's asyncio pool hands a returned connection to whoever asks next
        (``AsyncAdaptedQueue.get`` takes a free one without waiting in line), and
        ``asyncio.Queue`` puts a waiter that lost such a race back at the end of the line.
        With more requests in flight than connections, a request could be overtaken again
        and again: 4 KiB uploads from 64 raw-socket clients on the scale stack had a p99 of
        ~1 s at a p50 of ~55 ms. anyio's semaphore hands a released turn to the longest
        waiter. Waiting longer than ``POOL_TIMEOUT_SECONDS`` is the pool's own timeout
        error (a 503 that says the server is busy: errors.py)."""
        try:
            # A free turn means no one waits: a released turn goes to a waiter first.
            # Taken without a cancel scope, which cost ~5 % of a small upload's server CPU.
            self._turns.acquire_nowait()
            return
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(POOL_TIMEOUT_SECONDS) as waited:
            await self._turns.acquire()
        if waited.cancelled_caught:
            raise sqlalchemy.exc.TimeoutError(
                f"no database connection became free within {POOL_TIMEOUT_SECONDS} s"
            )

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        await self._take_turn()
        try:
            yield
        finally:
            self._turns.release()

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """PostgreSQL: a connection from the pool, in its turn (``_take_turn``)."""
        async with self._turn(), self.engine.connect() as conn:
            yield conn

    async def _direct(self, run: Callable[..., Awaitable[T]], stmt: Any, params: Any) -> T:
        """PostgreSQL: ``run(engine, stmt, params)`` (``asyncpg_direct``) in a turn of the
        pool (without ``_turn``'s context manager: this is every small upload's path)."""
        await self._take_turn()
        try:
            return await run(self.engine, stmt, params)
        finally:
            self._turns.release()

    # How long a read on the event loop may wait for a lock before it goes to a thread.
    READ_HERE_BUSY_MS = 20

    def _open_reader(self) -> Connection:
        """The event loop's connection, opened in a thread (connecting may wait for a lock)."""
        assert self._sync is not None
        reader = self._sync.connect().execution_options(isolation_level="AUTOCOMMIT")
        reader.exec_driver_sql(f"PRAGMA busy_timeout={self.READ_HERE_BUSY_MS}")
        reader.rollback()  # ends SQLAlchemy's transaction object; no SQL is sent
        return reader

    def _read_here(self, reader: Connection, fn: Callable[..., T], *args: Any) -> T:
        """Run a one-statement read (an index probe) on the event loop, SQLite only.

        Measured with 8 concurrent callers, the API-key lookup cost ~370 us of CPU through a
        worker thread (the hop, a pooled connection, BEGIN/COMMIT, the GIL passed back and
        forth) and ~50 us here; in the server, 4 KiB uploads went ~620 -> ~800/s. It is safe
        on the loop because a WAL-mode reader does not wait for writers, and the statement
        runs in autocommit (it sees every committed write: a revoked key is refused at
        once). What could still block is bounded: the connection's busy timeout is
        ``READ_HERE_BUSY_MS`` (a WAL reader meets a lock only around recovery or a
        connection in exclusive locking mode), after which the caller retries in a thread."""
        try:
            return fn(reader, *args)
        finally:
            reader.rollback()

    async def _probe(self, stmt: Any, params: dict[str, Any]) -> Any:
        """The first row of a prebuilt one-statement read that probes an index (the API-key
        lookup, a file by id), every request makes one: on PostgreSQL on asyncpg directly,
        in autocommit (``asyncpg_direct``); on SQLite on the event loop (``_read_here``),
        or in a worker thread if the database is locked.
        ``GET /v1/files/{id}`` by 8 raw-socket clients, A/B: embedded 722-753 ->
        3,080-3,216/s (server CPU per request 1.41-1.47 -> 0.31-0.33 ms: the file read
        went through a worker thread, BEGIN and COMMIT, with its statement built per call);
        scale 888-1,049 -> 1,450-1,839/s in two pairs (0.95-1.12 -> 0.54-0.69 ms; three
        round trips -> one)."""
        if self._sync is None:
            return await self._direct(asyncpg_direct.fetchrow, stmt, params)
        if self._reader is None:
            reader = await anyio.to_thread.run_sync(self._open_reader)
            if self._reader is None:
                self._reader = reader
            else:  # another request opened one meanwhile
                reader.close()
        try:
            return self._read_here(self._reader, queries.fetch_one, stmt, params)
        except sqlalchemy.exc.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        return await self._call(queries.fetch_one, stmt, params)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the one-statement read ``fn(conn, *args)``: on PostgreSQL in autocommit (one
        round trip, not three with BEGIN and COMMIT), on SQLite as ``_call``."""
        if self._sync is not None:
            return await self._call(fn, *args)
        async with self._connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await conn.run_sync(fn, *args)

    async def _call(self, fn: Callable[..., T], *args: Any, write: bool = False) -> T:
        """Run ``fn(conn, *args)`` in a transaction of its own."""
        if self._sync is not None:
            if write:
                assert self._writer is not None
                return await self._writer.run(fn, *args)
            return await anyio.to_thread.run_sync(self._sync_call, fn, args)
        async with self._connect() as conn, conn.begin():
            return await conn.run_sync(fn, *args)

    # Tenants and API keys ---------------------------------------------------------------

    async def create_key(self, tenant_name: str) -> tuple[str, str]:
        """A new API key for ``tenant_name`` (created if new): ``(key, tenant_id)``."""
        return await self._call(queries.create_key, tenant_name, write=True)

    async def tenant_for_key_hash(self, key_hash: str) -> str | None:
        """The tenant of the live API key whose ``security.hash_api_key`` is ``key_hash``."""
        row = await self._probe(queries.TENANT_FOR_KEY, {"key_hash": key_hash})
        return None if row is None else row[0]

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
        after: FileRecord | None = None,
    ) -> list[FileRecord]:
        if self._sync is not None:
            return await self._read(queries.list_files, tenant_id, purpose, skip, limit, after)
        stmt, params = queries.list_files_query(tenant_id, purpose, skip, limit, after)
        rows = await self._direct(asyncpg_direct.fetch, stmt, params)
        return [queries.file_record(row) for row in rows]

    async def commit_upload(
        self,
        rec: FileRecord,
        commit_bytes: Callable[[], None] | None = None,
        *,
        data: bytes | None = None,
        key_hash: str | None = None,
    ) -> tuple[FileRecord, bool]:
        """Make an upload's bytes and record durable together: ``(record, created)``.

        In one transaction: lock (or create) the blob row and insert the record unless the
        tenant has a record for these bytes and this purpose already (the unique constraint
        decides; that record is returned, ``created`` False, and the caller drops its staged
        copy); for a new record, store the bytes: ``data`` (a small blob, kept in the
        database: a row in this same transaction), or into the blob store by
        ``commit_bytes()`` (a quick rename, or an object-store copy). Should that fail, the
        transaction, record included, rolls back. A delete of the same content that races
        this waits on the blob row's lock, so it can never remove the bytes under a new
        record. A crash between ``commit_bytes`` and the commit leaves bytes with no row:
        ``vlmfiles serve`` (embedded) and ``vlmfiles fsck --repair`` remove those.

        On PostgreSQL a small blob's transaction is one statement
        (``queries.commit_inline_stmt``): one round trip instead of five.

        Given ``key_hash``, the transaction first checks that the upload's API key is still
        live and raises ``RevokedKey`` if not (nothing is written): an upload authorized
        from ``auth.RecentKeys`` is checked here, where its write happens."""
        assert (commit_bytes is None) != (data is None), "the bytes: in the store, or here"

        if self._sync is not None:

            def txn(conn: Connection) -> tuple[FileRecord, bool]:
                queries.check_key(conn, key_hash)
                md5 = queries.lock_blob(conn, rec.sha256, rec.md5, rec.bytes)
                result, created = queries.insert_file(conn, replace(rec, md5=md5))
                if created:
                    if data is not None:
                        queries.store_blob_data(conn, rec.sha256, data)
                    else:
                        assert commit_bytes is not None
                        commit_bytes()
                return result, created

            return await self._call(txn, write=True)
        if data is not None:
            return await self._commit_inline(rec, data, key_hash)
        async with self._connect() as conn, conn.begin():
            await conn.run_sync(queries.check_key, key_hash)
            md5 = await conn.run_sync(queries.lock_blob, rec.sha256, rec.md5, rec.bytes)
            result, created = await conn.run_sync(queries.insert_file, replace(rec, md5=md5))
            if created:
                assert commit_bytes is not None
                await anyio.to_thread.run_sync(commit_bytes)
            return result, created

    async def _commit_inline(
        self, rec: FileRecord, data: bytes, key_hash: str | None
    ) -> tuple[FileRecord, bool]:
        """PostgreSQL: a small blob's commit as one statement (``queries.commit_inline_stmt``).
        A record it met but that is deleted before the read of it: the statement runs again
        (as in ``queries.insert_file``)."""
        values = {**vars(rec), "data": data, "key_hash": key_hash}  # asdict deep-copies
        existing = {"tenant_id": rec.tenant_id, "sha256": rec.sha256, "purpose": rec.purpose}
        while True:
            row = await self._direct(asyncpg_direct.fetchrow, queries.commit_inline_stmt(), values)
            if row is None:  # the blob row was not written: the key's check failed
                raise RevokedKey(key_hash)
            md5, created = row
            if created:
                return replace(rec, md5=md5), True
            found = await self._direct(asyncpg_direct.fetchrow, queries.EXISTING_FILE, existing)
            if found is not None:
                return queries.file_record(found), False

    async def blob_data(self, sha256: str) -> bytes | None:
        """A small blob's bytes, if the database holds them (else they are in the store)."""
        return await self._read(queries.get_blob_data, sha256)

    async def blob_data_sizes(self) -> dict[str, int]:
        return await self._call(queries.blob_data_sizes)

    async def set_md5(self, sha256: str, md5: str) -> None:
        await self._call(queries.set_md5, sha256, md5, write=True)

    async def pending_md5(
        self,
        tenant_id: str | None = None,
        *,
        limit: int = 100,
        older_than_seconds: float | None = None,
    ) -> list[str]:
        before = None if older_than_seconds is None else now_us() - int(older_than_seconds * 1e6)
        return await self._call(queries.pending_md5, tenant_id, limit, before)

    async def delete_file(self, tenant_id: str, file_id: str) -> FileRecord | None:
        return await self._call(queries.delete_file, tenant_id, file_id, write=True)

    async def release_blob(self, sha256: str, remove_bytes: Callable[[str], None]) -> bool:
        """Remove the blob if no file references it; True if removed. The bytes go
        *inside* the transaction that holds the blob row's lock (see commit_upload)."""
        if self._sync is not None:
            return await self._call(queries.release_blob, sha256, remove_bytes, write=True)
        async with self._connect() as conn, conn.begin():
            if not await conn.run_sync(queries.lock_if_unreferenced, sha256):
                return False
            await anyio.to_thread.run_sync(remove_bytes, sha256)
            await conn.run_sync(queries.delete_blob_row, sha256)
            return True

    async def unreferenced_blobs(self) -> list[str]:
        return await self._call(queries.unreferenced_blobs)

    async def blob_rows(self) -> list[tuple[str, str | None, int]]:
        return await self._call(queries.blob_rows)

    # Presigned uploads ------------------------------------------------------------------

    async def create_upload(self, rec: UploadRecord) -> None:
        await self._call(queries.create_upload, rec, write=True)

    async def get_upload(self, tenant_id: str, upload_id: str) -> UploadRecord | None:
        return await self._read(queries.get_upload, tenant_id, upload_id)

    async def complete_upload(self, upload_id: str, file_id: str) -> bool:
        """Mark the upload done; False if another request completed it first."""
        return await self._call(queries.complete_upload, upload_id, file_id, write=True)

    async def fail_upload(self, upload_id: str, status: int, message: str) -> bool:
        return await self._call(queries.fail_upload, upload_id, status, message, write=True)

    async def expired_uploads(self, now: int) -> list[UploadRecord]:
        return await self._call(queries.expired_uploads, now)

    async def delete_upload(self, upload_id: str) -> None:
        await self._call(queries.delete_upload, upload_id, write=True)
