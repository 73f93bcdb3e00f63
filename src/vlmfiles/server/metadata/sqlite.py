"""The SQLite metadata store (embedded): the stdlib driver, in worker threads.

- Writes go through ``group_commit.GroupCommitter``: concurrent writes share one
  transaction and one WAL fsync.
- Reads run in a worker thread, each in a transaction of its own on a pooled connection
  (aiosqlite's thread hop per cursor call cost several times the statements themselves).
- The index probes every request makes (the API-key lookup, a file by id) run on the
  event loop itself, on a connection of its own in autocommit (``_probe``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import anyio
import sqlalchemy
from sqlalchemy import Connection

from . import blob_queries, queries
from .common import SqlStore
from .engines import create_engine, create_sqlite_engine
from .group_commit import GroupCommitter
from .records import FileRecord

T = TypeVar("T")

# How long a read on the event loop may wait for a lock before it goes to a thread.
READ_HERE_BUSY_MS = 20


class SqliteStore(SqlStore):
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)  # migrations and tools
        self._sync = create_sqlite_engine(url)
        self._writer = GroupCommitter(self._sync)
        self._reader: Connection | None = None  # the event loop's own

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._writer.close()  # its connection first, then the pool it came from
        await self.engine.dispose()
        self._sync.dispose()

    # Running queries --------------------------------------------------------------------

    def _sync_call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._sync.connect() as conn, conn.begin():
            return fn(conn, *args)

    async def _call(self, fn: Callable[..., T], *args: Any, write: bool = False) -> T:
        if write:
            result: T = await self._writer.run(fn, *args)
            return result
        return await anyio.to_thread.run_sync(self._sync_call, fn, args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(fn, *args)

    def _open_reader(self) -> Connection:
        """The event loop's connection, opened in a thread (connecting may wait for a lock)."""
        reader = self._sync.connect().execution_options(isolation_level="AUTOCOMMIT")
        reader.exec_driver_sql(f"PRAGMA busy_timeout={READ_HERE_BUSY_MS}")
        reader.rollback()  # ends SQLAlchemy's transaction object; no SQL is sent
        return reader

    async def _probe(self, stmt: Any, params: dict[str, Any]) -> Any:
        """On the event loop: a WAL reader does not wait for writers, and in autocommit it
        sees every commit (a revoked key is refused at once). Should it meet a lock (only
        around recovery), it gives up after ``READ_HERE_BUSY_MS`` and runs in a thread."""
        if self._reader is None:
            reader = await anyio.to_thread.run_sync(self._open_reader)
            if self._reader is None:
                self._reader = reader
            else:  # another request opened one meanwhile
                reader.close()
        try:
            return queries.fetch_one(self._reader, stmt, params)
        except sqlalchemy.exc.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        finally:
            self._reader.rollback()
        return await self._call(queries.fetch_one, stmt, params)

    # Operations whose shape is SQLite's --------------------------------------------------

    async def _commit_upload(
        self,
        rec: FileRecord,
        commit_bytes: Callable[[], None] | None,
        data: bytes | None,
        key_hash: str | None,
    ) -> tuple[FileRecord, bool]:

        def txn(conn: Connection) -> tuple[FileRecord, bool]:
            queries.check_key(conn, key_hash)
            md5 = blob_queries.lock_blob(conn, rec.sha256, rec.md5, rec.bytes)
            result, created = queries.insert_file(conn, replace(rec, md5=md5))
            if created:
                if data is not None:
                    blob_queries.store_blob_data(conn, rec.sha256, data)
                else:
                    assert commit_bytes is not None
                    commit_bytes()
            return result, created

        return await self._call(txn, write=True)

    async def release_blob(self, sha256: str, remove_bytes: Callable[[str], None]) -> bool:
        return await self._call(blob_queries.release_blob, sha256, remove_bytes, write=True)
