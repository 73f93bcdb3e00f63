"""The PostgreSQL metadata store (scale): asyncpg, through SQLAlchemy's async engine.

Two ways to run a statement, both on the engine's pool: SQLAlchemy's execution
(``AsyncConnection.run_sync`` over ``queries`` and ``blob_queries``) for everything but the statements every
request runs, which go to asyncpg directly (``_Conn``: SQLAlchemy's greenlet hop, execution
context and result cost more of the event loop than asyncpg itself). Those are the index
probes (the API-key lookup, a file by id), a listing's page and an upload's commit, which is
one statement (``blob_queries.commit_stmt``): alone in autocommit for bytes kept in the
database, in a transaction around the blob store's commit otherwise.

Every use of the pool first takes a turn (``_take_turn``), handed out first come, first
served: SQLAlchemy's asyncio pool lets a newcomer take a returned connection ahead of a
waiter, so under load a request could be overtaken again and again.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, TypeVar

import anyio
import asyncpg
import sqlalchemy
from sqlalchemy import exc
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import greenlet_spawn

from ..settings import DATABASE_POOL_SIZE
from . import blob_queries, engines, queries
from .common import SqlStore
from .records import FileRecord, RevokedKey, now_us
from .store import SortKey

T = TypeVar("T")


@functools.cache
def compiled(stmt: Any) -> tuple[str, tuple[str, ...]]:
    """``stmt``'s SQL for asyncpg (``$1``...) and its parameters' names in order; for
    statements built once (queries.py, blob_queries.py), as it is keyed by the statement object."""
    c = stmt.compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
    return str(c), tuple(c.positiontup or ())


class _Conn:
    """A pooled asyncpg connection; its errors raised as SQLAlchemy's would be.

    A statement PostgreSQL refused leaves the connection usable (``IntegrityError``...);
    anything else (a broken connection, a cancelled await with the query still running)
    marks it ``broken``: it is invalidated, never handed to the next request, and its error
    is an ``OperationalError`` with ``connection_invalidated`` (a 503 the SDKs retry)."""

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw
        self.broken = False

    async def run(self, method: str, stmt: Any, params: dict[str, Any] | None = None) -> Any:
        sql, names = (stmt, ()) if isinstance(stmt, str) else compiled(stmt)
        args = [params[name] for name in names] if params else []
        try:
            return await getattr(self.raw, method)(sql, *args)
        except BaseException as e:
            if isinstance(e, asyncpg.PostgresError) and not (
                isinstance(e, asyncpg.PostgresConnectionError) or self.raw.is_closed()
            ):
                raise _sqlalchemy_error(e)(sql, None, e) from e
            self.broken = True
            if isinstance(e, Exception):
                raise exc.OperationalError(sql, None, e, connection_invalidated=True) from e
            raise


def _sqlalchemy_error(e: asyncpg.PostgresError) -> type[exc.DBAPIError]:
    # As SQLAlchemy's asyncpg dialect maps them.
    if isinstance(e, asyncpg.IntegrityConstraintViolationError):
        return exc.IntegrityError
    if isinstance(e, asyncpg.SyntaxOrAccessError):
        return exc.ProgrammingError
    return exc.DatabaseError


class PostgresStore(SqlStore):
    def __init__(self, url: str, *, pool_size: int = DATABASE_POOL_SIZE) -> None:
        self.engine = engines.create_engine(url, pool_size)
        self._turns = anyio.Semaphore(pool_size, fast_acquire=True)

    async def close(self) -> None:
        await self.engine.dispose()

    # Running queries --------------------------------------------------------------------

    async def _take_turn(self) -> None:
        """Hold one of the pool's turns; anyio's semaphore hands a released turn to the
        longest waiter. Waiting past ``POOL_TIMEOUT_SECONDS`` is the pool's timeout."""
        try:
            self._turns.acquire_nowait()  # no cancel scope on the fast path: it costs
            return
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(engines.POOL_TIMEOUT_SECONDS) as waited:
            await self._turns.acquire()
        if waited.cancelled_caught:
            raise sqlalchemy.exc.TimeoutError(
                f"no database connection became free within {engines.POOL_TIMEOUT_SECONDS} s"
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
        """A SQLAlchemy connection from the pool, in its turn."""
        async with self._turn(), self.engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _direct(self, *, transaction: bool = False) -> AsyncIterator[_Conn]:
        """An asyncpg connection from the same pool (``engine.raw_connection()``: its
        checkout ping and checkin events hold), in autocommit or in a transaction."""
        async with self._turn():
            pooled = await self.engine.raw_connection()
            conn = _Conn(pooled.driver_connection)
            try:
                if transaction:
                    await conn.run("execute", "BEGIN")
                yield conn
                if transaction:
                    await conn.run("execute", "COMMIT")
            finally:
                with anyio.CancelScope(shield=True):
                    if not conn.broken and conn.raw.is_in_transaction():
                        try:
                            await conn.raw.execute("ROLLBACK")
                        except Exception:
                            conn.broken = True
                    if conn.broken:
                        await greenlet_spawn(pooled.invalidate)  # closing it awaits
                    await greenlet_spawn(pooled.close)  # back to the pool

    async def _probe(self, stmt: Any, params: dict[str, Any]) -> Any:
        async with self._direct() as conn:
            return await conn.run("fetchrow", stmt, params)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """In autocommit: one round trip, not three with BEGIN and COMMIT."""
        async with self._connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await conn.run_sync(fn, *args)

    async def _call(self, fn: Callable[..., T], *args: Any, write: bool = False) -> T:
        async with self._connect() as conn, conn.begin():
            return await conn.run_sync(fn, *args)

    # Operations whose shape is PostgreSQL's ----------------------------------------------

    async def list_files(
        self,
        tenant_id: str,
        *,
        purpose: str | None,
        skip: int,
        limit: int,
        after: SortKey | None = None,
    ) -> list[FileRecord]:
        stmt, params = queries.list_files_query(tenant_id, purpose, skip, limit, after)
        async with self._direct() as conn:
            rows = await conn.run("fetch", stmt, params)
        return [queries.file_record(row) for row in rows]

    async def _commit_upload(
        self,
        rec: FileRecord,
        commit_bytes: Callable[[], None] | None,
        data: bytes | None,
        key_hash: str | None,
    ) -> tuple[FileRecord, bool]:
        values = {**vars(rec), "data": data, "key_hash": key_hash, "blob_created_us": now_us()}
        if data is not None:  # the statement is the whole transaction: one round trip
            async with self._direct() as conn:
                return await self._commit_statement(conn, rec, values)
        assert commit_bytes is not None
        async with self._direct(transaction=True) as conn:
            result, created = await self._commit_statement(conn, rec, values)
            if created:  # under the blob row's lock: a release of these bytes waits
                await anyio.to_thread.run_sync(commit_bytes)
            return result, created

    @staticmethod
    async def _commit_statement(
        conn: _Conn, rec: FileRecord, values: dict[str, Any]
    ) -> tuple[FileRecord, bool]:
        """Run ``blob_queries.commit_stmt``. Each statement sees what was committed before it, so
        the record it met may be deleted before the read of it: then it runs again."""
        existing = {"tenant_id": rec.tenant_id, "sha256": rec.sha256, "purpose": rec.purpose}
        while True:
            row = await conn.run("fetchrow", blob_queries.commit_stmt(), values)
            if row is None:  # the blob row was not written: the key's check failed
                raise RevokedKey(values["key_hash"])
            md5, created = row
            if created:
                return replace(rec, md5=md5), True
            found = await conn.run("fetchrow", queries.EXISTING_FILE, existing)
            if found is not None:
                return queries.file_record(found), False

    async def release_blob(self, sha256: str, remove_bytes: Callable[[str], None]) -> bool:
        async with self._connect() as conn, conn.begin():
            if not await conn.run_sync(blob_queries.lock_if_unreferenced, sha256):
                return False
            await anyio.to_thread.run_sync(remove_bytes, sha256)
            await conn.run_sync(blob_queries.delete_blob_row, sha256)
            return True
