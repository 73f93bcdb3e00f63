"""SQLite: the API-key lookup every request makes runs on the event loop (no thread hop).
It must see every committed change at once, and never hold the loop for long."""

from __future__ import annotations

import sqlite3
import threading
import time

import anyio
import sqlalchemy.exc

from vlmfiles.server.metadata import queries
from vlmfiles.server.metadata.migrate import upgrade
from vlmfiles.server.metadata.store import open_metadata_store
from vlmfiles.server.security import hash_api_key


async def _migrated(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    await anyio.to_thread.run_sync(upgrade, url)  # alembic runs its own event loop
    return url


async def _key(url: str) -> tuple[str, str]:
    """A key made by another store (another process, as `vlmfiles keys create` is)."""
    other = open_metadata_store(url)
    try:
        return await other.create_key("t")
    finally:
        await other.close()


class _LoopTicker:
    """Records the longest gap between 5 ms ticks of the event loop."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await anyio.sleep(0.005)
            now = time.monotonic()
            self.longest = max(self.longest, now - last)
            last = now


async def test_a_lookup_sees_keys_created_and_revoked_by_another_connection(tmp_path):
    url = await _migrated(tmp_path)
    store, other = open_metadata_store(url), open_metadata_store(url)
    try:
        assert (
            await store.tenant_for_key_hash(hash_api_key("vlmf_nobody")) is None
        )  # the reader is open now
        key, tenant = await other.create_key("t")
        assert await store.tenant_for_key_hash(hash_api_key(key)) == tenant
        assert await other.revoke_key(key) == 1
        assert await store.tenant_for_key_hash(hash_api_key(key)) is None
    finally:
        await store.close()
        await other.close()


async def test_a_locked_database_holds_the_lookup_not_the_event_loop(tmp_path):
    """Another connection holds the database in exclusive locking mode for a second (the
    way to keep a WAL-mode reader out): the first lookup waits for it in a thread, the loop
    ticks on, and the answer comes once the lock is gone."""
    url = await _migrated(tmp_path)
    key, tenant = await _key(url)
    locked, release = threading.Event(), threading.Event()

    def hold_exclusive() -> None:
        db = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("BEGIN EXCLUSIVE")
        db.execute("CREATE TABLE held (n INTEGER)")
        db.execute("COMMIT")  # the lock stays: locking_mode=EXCLUSIVE
        locked.set()
        release.wait(10)
        db.close()

    holder = threading.Thread(target=hold_exclusive)
    holder.start()
    store = open_metadata_store(url)
    ticker = _LoopTicker()
    try:
        assert locked.wait(10)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker.run)
            threading.Timer(1.0, release.set).start()
            started = time.monotonic()
            assert await store.tenant_for_key_hash(hash_api_key(key)) == tenant
            waited = time.monotonic() - started
            tg.cancel_scope.cancel()
        assert waited >= 0.9  # the lock was real, and the lookup waited for it
        assert ticker.longest < 0.5, f"the event loop was held {ticker.longest:.3f} s"
    finally:
        release.set()
        holder.join()
        await store.close()


async def test_a_busy_read_on_the_loop_is_retried_in_a_thread(tmp_path, monkeypatch):
    url = await _migrated(tmp_path)
    key, tenant = await _key(url)
    loop_thread = threading.current_thread()
    real = queries.fetch_one
    calls: list[str] = []

    def busy_on_the_loop(conn, stmt, params):
        here = threading.current_thread() is loop_thread
        calls.append("loop" if here else "thread")
        if here:
            raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("database is locked"))
        return real(conn, stmt, params)

    monkeypatch.setattr(queries, "fetch_one", busy_on_the_loop)
    store = open_metadata_store(url)
    try:
        assert await store.tenant_for_key_hash(hash_api_key(key)) == tenant
        assert calls == ["loop", "thread"]
    finally:
        await store.close()
