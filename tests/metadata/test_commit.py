"""An upload's commit (``MetadataStore.commit_upload``), on both databases: all or nothing,
identical uploads end as one record, and a revoked key or a taken id writes nothing."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
import sqlalchemy
from sqlalchemy import delete

from vlmfiles.server.metadata import postgres, queries
from vlmfiles.server.metadata.records import IdTaken, RevokedKey
from vlmfiles.server.metadata.tables import blob_data, blobs, files
from vlmfiles.server.security import hash_api_key

from .conftest import count as _count
from .conftest import record as _record


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
    # The read back runs after the commit statement, on the same connection.
    real_run = postgres._Conn.run

    async def run_after_a_delete(self, method, stmt, params=None):  # type: ignore[no-untyped-def]
        if stmt is queries.EXISTING_FILE:
            monkeypatch.setattr(postgres._Conn, "run", real_run)  # once
            async with store.engine.begin() as conn:
                await conn.execute(delete(files).where(files.c.id == first.id))
        return await real_run(self, method, stmt, params)

    monkeypatch.setattr(postgres._Conn, "run", run_after_a_delete)
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


@pytest.mark.parametrize("kept", ["in the database", "in the blob store"])
async def test_a_revoked_key_commits_nothing(store, kept):
    key, tenant = await store.create_key("acme")
    assert await store.revoke_key(key) == 1
    data = b"uploaded as the key was revoked"
    committed: list[bool] = []
    with pytest.raises(RevokedKey):
        if kept == "in the database":
            await store.commit_upload(
                _record("file-1", tenant, data), data=data, key_hash=hash_api_key(key)
            )
        else:
            await store.commit_upload(
                _record("file-1", tenant, data),
                lambda: committed.append(True),
                key_hash=hash_api_key(key),
            )
    assert committed == []
    assert [await _count(store, t) for t in (files, blobs, blob_data)] == [0, 0, 0]


@pytest.mark.parametrize("kept", ["in the database", "in the blob store"])
async def test_other_bytes_under_a_taken_id_are_refused_as_such(store, kept):
    """Two PUTs of different bytes to one upload URL commit under the upload's id: the
    second is ``IdTaken`` (a 409 for the client), not a database error (a 500)."""
    _, tenant = await store.create_key("acme")
    first, second = b"the first PUT's bytes", b"the second PUT's bytes"
    await store.commit_upload(_record("file-1", tenant, first), data=first)
    committed: list[bool] = []
    with pytest.raises(IdTaken):
        if kept == "in the database":
            await store.commit_upload(_record("file-1", tenant, second), data=second)
        else:
            await store.commit_upload(
                _record("file-1", tenant, second), lambda: committed.append(True)
            )
    assert committed == []
    assert (await store.get_file(tenant, "file-1")).sha256 == hashlib.sha256(first).hexdigest()
    assert await _count(store, files) == 1
