"""A small upload's commit (``MetadataStore.commit_upload`` with ``data``), on both databases:
on SQLite a group-commit transaction, on PostgreSQL one statement (``queries.commit_inline_stmt``).
Either way it is all or nothing, and identical uploads end as one record."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import sqlalchemy
from sqlalchemy import delete, func, select

from tests.support.postgres import fresh_database
from vlmfiles.server.metadata import asyncpg_direct, queries
from vlmfiles.server.metadata.migrate import upgrade
from vlmfiles.server.metadata.records import FileRecord, now_us
from vlmfiles.server.metadata.store import MetadataStore
from vlmfiles.server.metadata.tables import blob_data, blobs, files


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
        upgrade(url)
        yield url
        return
    with fresh_database() as url:
        upgrade(url)
        yield url


# The stores run in each test's own event loop (the project's default for async fixtures is
# the session's): an asyncpg connection belongs to the loop that opened it.
@pytest_asyncio.fixture(loop_scope="function")
async def store(database_url: str) -> AsyncIterator[MetadataStore]:
    store = MetadataStore(database_url)
    yield store
    await store.close()


def _record(file_id: str, tenant: str, data: bytes, purpose: str = "assistants") -> FileRecord:
    return FileRecord(
        id=file_id,
        tenant_id=tenant,
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
        bytes=len(data),
        purpose=purpose,
        filename="x.txt",
        content_type="text/plain",
        created_us=now_us(),
    )


async def _count(store: MetadataStore, table: sqlalchemy.Table) -> int:
    async with store.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_identical_small_uploads_at_once_end_as_one_record(store):
    _, tenant = await store.create_key("acme")
    data = b"the same small file"
    results = await asyncio.gather(
        *(store.commit_upload(_record(f"file-{i}", tenant, data), data=data) for i in range(24))
    )
    created = [rec for rec, new in results if new]
    assert len(created) == 1
    assert {rec.id for rec, _ in results} == {created[0].id}
    assert all(rec.md5 == hashlib.md5(data).hexdigest() for rec, _ in results)
    assert await store.blob_data(created[0].sha256) == data
    assert (await _count(store, files), await _count(store, blobs)) == (1, 1)
    # Another purpose is another record of the same bytes, kept once.
    other, new = await store.commit_upload(_record("file-x", tenant, data, "batch"), data=data)
    assert new and other.id == "file-x"
    assert (await _count(store, files), await _count(store, blob_data)) == (2, 1)


async def test_a_failed_small_commit_leaves_no_blob_and_no_bytes(store):
    data = b"bytes of a tenant that does not exist"
    with pytest.raises(sqlalchemy.exc.IntegrityError):  # files.tenant_id's foreign key
        await store.commit_upload(_record("file-1", "tnt_nobody", data), data=data)
    assert [await _count(store, t) for t in (files, blobs, blob_data)] == [0, 0, 0]


@pytest.mark.parametrize("kept", ["in the database", "in the blob store"])
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_record_deleted_before_it_is_read_back_is_committed_anew(store, monkeypatch, kept):
    """PostgreSQL: the insert meets the tenant's record for these bytes (the upload is a
    duplicate), and that record is deleted before the statement after it reads it back.
    The upload is then committed again, as a new record, rather than failing: for a small
    file (one statement) and for one whose bytes go to the blob store (a transaction).
    (SQLite reads it back inside the same write transaction.)"""
    _, tenant = await store.create_key("acme")
    data = b"deleted in between"
    first, _ = await store.commit_upload(_record("file-1", tenant, data), data=data)
    # The read back: in a transaction (queries.existing_file) after the blob store's
    # commit, on asyncpg directly after the one-statement small commit.
    read_back, fetchrow = queries.existing_file, asyncpg_direct.fetchrow

    def existing_file_after_a_delete(conn, *args):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(queries, "existing_file", read_back)  # once
        conn.execute(delete(files).where(files.c.id == first.id))
        return read_back(conn, *args)

    async def fetchrow_after_a_delete(engine, stmt, params):  # type: ignore[no-untyped-def]
        if stmt is queries.EXISTING_FILE:
            monkeypatch.setattr(asyncpg_direct, "fetchrow", fetchrow)  # once
            async with engine.begin() as conn:
                await conn.execute(delete(files).where(files.c.id == first.id))
        return await fetchrow(engine, stmt, params)

    monkeypatch.setattr(queries, "existing_file", existing_file_after_a_delete)
    monkeypatch.setattr(asyncpg_direct, "fetchrow", fetchrow_after_a_delete)
    committed: list[bool] = []
    second = _record("file-2", tenant, data)
    if kept == "in the database":
        again, created = await store.commit_upload(second, data=data)
    else:
        again, created = await store.commit_upload(second, lambda: committed.append(True))
        assert committed == [True]  # its bytes were committed, with the new record
    assert created and again.id == "file-2"
    assert await store.get_file(tenant, "file-1") is None
    assert await store.blob_data(again.sha256) == data
