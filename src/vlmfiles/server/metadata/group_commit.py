"""Group commit for SQLite: concurrent writes share one transaction and one WAL fsync.

SQLite has one writer at a time, and with ``synchronous=FULL`` every commit waits for an
fsync of the WAL, so one transaction per upload caps small uploads at one fsync each
however many clients there are. Here a write joins
a queue; whoever takes the writer lock runs everything queued so far in one transaction,
each write in a SAVEPOINT of its own (a write that fails is rolled back alone and gets its
own exception), then commits once and hands each caller its result. A caller returns only
after the COMMIT: the same durability as a transaction of its own.

Several server processes on one database (``--workers N``) take turns through a ``flock``
on a file beside it, held for each group transaction. SQLite's own busy handler would do
it too, but it polls, sleeping up to 100 ms between tries, while a blocked ``flock`` wakes
the moment the lock is free.

The group transactions run on one connection of their own, kept open: its page cache
stays valid from one group to the next (a pooled connection, after another one wrote, finds
its cache stale and reads the pages again), and its
statement journal (the undo log of the SAVEPOINTs) stays in memory instead of a temporary
file created, spilled to and deleted in every group transaction.

Databases with concurrent writers (PostgreSQL) do not need this: each request has its own
transaction and the server groups WAL flushes itself (``commit_delay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import anyio
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from .queries import driver_execute

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MAX_BATCH = 64  # writes per transaction: bounds how long one commit holds the lock
_PENDING = object()


class _Write:
    __slots__ = ("fn", "args", "finished", "result", "error")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args
        self.finished = anyio.Event()  # set (in the event loop) once its batch committed
        self.result: Any = _PENDING
        self.error: BaseException | None = None


class ProcessLock:
    """An exclusive ``flock`` on ``path`` (created if missing); a no-op where ``fcntl`` is
    missing (Windows), leaving SQLite's busy handler to share the database."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover - not on POSIX
            yield
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocking, in the commit's worker thread
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class GroupCommitter:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        database = engine.url.database
        on_disk = database and database != ":memory:" and not database.startswith("file:")
        self._process_lock = ProcessLock(f"{database}-writers.lock") if on_disk else None
        self._lock = asyncio.Lock()
        self._queue: list[_Write] = []
        self._conn: Connection | None = None  # opened by the first group, in its thread
        self.transactions = 0  # how many group transactions ran (for tests and metrics)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(conn, *args)`` in the next group transaction; its result once committed."""
        write = _Write(fn, args)
        self._queue.append(write)
        try:
            async with self._lock:
                # Until our own write has run: an earlier caller's batch may have taken it,
                # or (more than MAX_BATCH queued) it may need more than one batch of ours.
                while not write.finished.is_set():
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                    # Shielded: once the batch runs, its outcome must reach every caller.
                    with anyio.CancelScope(shield=True):
                        try:
                            await anyio.to_thread.run_sync(self._commit, batch)
                        finally:  # whatever happened, every caller of the batch is told
                            for w in batch:
                                if w.error is None and w.result is _PENDING:
                                    w.error = RuntimeError("the group commit did not run")
                                w.finished.set()
        except BaseException:
            if write in self._queue:  # cancelled before it ran: it never will
                self._queue.remove(write)
            else:  # it is running in another caller's batch: let it end before we do
                with anyio.CancelScope(shield=True):
                    await write.finished.wait()
            raise
        if write.error is not None:
            raise write.error
        return write.result

    def close(self) -> None:
        self._drop_connection()
        if self._process_lock is not None:
            self._process_lock.close()

    def _commit(self, batch: list[_Write]) -> None:
        self.transactions += 1
        held = self._process_lock.held() if self._process_lock else contextlib.nullcontext()
        try:
            with held:
                conn = self._connection()
                with conn.begin():
                    for write in batch:
                        self._one(conn, write)
        except BaseException as e:  # the commit itself failed: no write of the batch stands
            for write in batch:
                if write.error is None:
                    write.error = e
            self._drop_connection()  # in whatever state the failure left it: start afresh

    def _connection(self) -> Connection:
        """The writer's own connection. Groups run one at a time (``self._lock``), each in a
        worker thread, so it is used by one thread at a time, never two at once."""
        if self._conn is None:
            conn = self._engine.connect().execution_options(vlmfiles_write=True)
            # The statement journal in memory: it holds at most a batch's changed pages.
            driver_execute(conn, "PRAGMA temp_store=MEMORY")
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    @staticmethod
    def _one(conn: Connection, write: _Write) -> None:
        # SAVEPOINTs sent to the driver as they are: ``conn.begin_nested()``'s transaction
        # objects and events cost a fifth of a small commit, and nothing else here nests.
        driver_execute(conn, "SAVEPOINT one_write")
        try:
            write.result = write.fn(conn, *write.args)
        except Exception as e:
            write.error = e
            driver_execute(conn, "ROLLBACK TO one_write")
        driver_execute(conn, "RELEASE one_write")
