"""SQLite group commit: concurrent writes share transactions, and each keeps its own fate."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from vlmfiles.server.metadata.engines import create_sqlite_engine
from vlmfiles.server.metadata.group_commit import GroupCommitter

meta = MetaData()
rows = Table("rows", meta, Column("n", Integer, primary_key=True))


@pytest.fixture
def engine(tmp_path):
    engine = create_sqlite_engine(f"sqlite:///{tmp_path / 'g.sqlite3'}")
    meta.create_all(engine)
    yield engine
    engine.dispose()


def _insert(conn, n: int) -> int:
    conn.execute(insert(rows).values(n=n))
    return n


def _stored(engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(rows.c.n)).scalars())


async def test_concurrent_writes_share_transactions_and_all_commit(engine):
    g = GroupCommitter(engine)
    results: list[int] = []

    async def write(n: int) -> None:
        results.append(await g.run(_insert, n))

    async with anyio.create_task_group() as tg:
        for n in range(40):
            tg.start_soon(write, n)
    assert sorted(results) == list(range(40))
    assert _stored(engine) == set(range(40))
    assert g.transactions < 40  # grouped: one WAL fsync serves several uploads


async def test_more_writes_than_one_batch_holds_all_run(engine, monkeypatch):
    """A caller whose write is behind a full batch runs batches until its own has run."""
    monkeypatch.setattr("vlmfiles.server.metadata.group_commit.MAX_BATCH", 2)
    g = GroupCommitter(engine)
    results: dict[int, int] = {}

    async def write(n: int) -> None:
        results[n] = await g.run(_insert, n)

    async with anyio.create_task_group() as tg:
        for n in range(25):
            tg.start_soon(write, n)
    assert results == {n: n for n in range(25)}
    assert _stored(engine) == set(range(25))
    assert g.transactions >= 13


async def test_a_failing_write_fails_alone(engine):
    g = GroupCommitter(engine)
    outcomes: dict[int, object] = {}

    async def write(n: int) -> None:
        try:
            # n == 7 breaks the primary key after inserting 0; it must roll back alone.
            outcomes[n] = await g.run(_insert, 0 if n == 7 else n)
        except Exception as e:
            outcomes[n] = e

    async with anyio.create_task_group() as tg:
        for n in range(15):
            tg.start_soon(write, n)
    failed = [n for n, o in outcomes.items() if isinstance(o, Exception)]
    assert len(failed) == 1 and failed[0] in (0, 7)  # whichever of the two ran second
    assert _stored(engine) == set(range(15)) - {7}  # every other write stands


async def test_a_write_cancelled_while_queued_never_runs(engine):
    g = GroupCommitter(engine)
    async with g._lock:  # a batch in progress: new writes queue behind it
        with anyio.move_on_after(0.05):
            await g.run(_insert, 1)
    assert await g.run(_insert, 2) == 2
    assert _stored(engine) == {2}


async def test_a_group_transaction_holds_the_lock_other_processes_wait_on(engine, tmp_path):
    """Server processes on one database (--workers N) take turns through a flock beside
    it: held for the whole group transaction, free again after it."""
    import fcntl
    import os
    import threading

    g = GroupCommitter(engine)
    inside, release = threading.Event(), threading.Event()

    def slow_insert(conn, n: int) -> int:
        inside.set()
        release.wait(10)
        return _insert(conn, n)

    def try_lock() -> bool:
        fd = os.open(tmp_path / "g.sqlite3-writers.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    async with anyio.create_task_group() as tg:
        tg.start_soon(g.run, slow_insert, 1)
        await anyio.to_thread.run_sync(inside.wait, 10)
        assert not try_lock()  # another process would wait here
        release.set()
    assert try_lock()
    assert _stored(engine) == {1}
    g.close()


async def test_after_a_commit_that_fails_the_next_write_commits(engine):
    """The group's transaction fails at COMMIT (a deferred foreign key: every statement ran):
    none of its writes stands, each caller gets the error, and the writer still writes."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (n INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(
            "CREATE TABLE child (n INTEGER PRIMARY KEY, parent INTEGER"
            " REFERENCES parent (n) DEFERRABLE INITIALLY DEFERRED)"
        )

    def orphan(conn, n: int) -> int:
        _insert(conn, n)
        conn.exec_driver_sql("INSERT INTO child VALUES (?, 999)", (n,))
        return n

    g = GroupCommitter(engine)
    assert await g.run(_insert, 1) == 1
    with pytest.raises(Exception, match="FOREIGN KEY"):
        await g.run(orphan, 2)
    assert await g.run(_insert, 3) == 3
    assert _stored(engine) == {1, 3}
    g.close()
