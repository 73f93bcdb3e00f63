"""What the service relies on from a metadata store, on both backends."""

from __future__ import annotations

import hashlib

from vlmfiles.server.metadata.records import UploadRecord, now_us
from vlmfiles.server.metadata.tables import blob_data, blobs
from vlmfiles.server.security import hash_api_key

from .conftest import count, record


async def test_keys_resolve_until_revoked(store):
    key, tenant = await store.create_key("acme")
    other_key, same_tenant = await store.create_key("acme")
    assert same_tenant == tenant
    live = await store.live_key(hash_api_key(key))
    assert live is not None and live[0] == tenant
    key_id = live[1]
    assert await store.key_is_live(tenant, key_id)
    assert not await store.key_is_live("tnt_other", key_id)  # a key is its tenant's only
    assert await store.revoke_key(key) == 1
    assert await store.live_key(hash_api_key(key)) is None
    assert await store.tenant_for_key_hash(hash_api_key(key)) is None
    assert not await store.key_is_live(tenant, key_id)  # its signed URLs die with it
    assert await store.tenant_for_key_hash(hash_api_key(other_key)) == tenant
    assert await store.count_active_keys() == 1


async def test_a_listing_continues_past_a_cursor_whose_file_is_gone(store):
    """The cursor is a sort key, not a row: deleting its file does not lose the place."""
    _, tenant = await store.create_key("acme")
    recs = []
    for i in range(5):
        data = f"file {i}".encode()
        rec, _ = await store.commit_upload(
            record(f"file-{i}", tenant, data, created_us=1000 + i), data=data
        )
        recs.append(rec)
    page = await store.list_files(tenant, purpose=None, skip=0, limit=2)
    assert [r.id for r in page] == ["file-4", "file-3"]
    cursor = (page[-1].created_us, page[-1].id)
    for r in page:
        assert await store.delete_file(tenant, r.id) == r
    rest = await store.list_files(tenant, purpose=None, skip=0, limit=10, after=cursor)
    assert [r.id for r in rest] == ["file-2", "file-1", "file-0"]
    by_purpose = await store.list_files(tenant, purpose="batch", skip=0, limit=10, after=cursor)
    assert by_purpose == []


async def test_a_blob_goes_with_its_last_reference(store):
    _, tenant = await store.create_key("acme")
    data = b"shared bytes"
    sha = hashlib.sha256(data).hexdigest()
    await store.commit_upload(record("file-1", tenant, data), data=data)
    await store.commit_upload(record("file-2", tenant, data, purpose="batch"), data=data)
    removed: list[str] = []
    await store.delete_file(tenant, "file-1")
    assert not await store.release_blob(sha, removed.append)  # file-2 still holds it
    await store.delete_file(tenant, "file-2")
    assert await store.unreferenced_blobs() == [sha]
    assert await store.release_blob(sha, removed.append)
    assert removed == [sha]
    assert (await count(store, blobs), await count(store, blob_data)) == (0, 0)


async def test_an_md5_computed_later_reaches_every_record(store):
    _, tenant = await store.create_key("acme")
    committed: list[bool] = []
    rec = record("file-1", tenant, b"large", created_us=1)
    rec = type(rec)(**{**vars(rec), "md5": None})
    await store.commit_upload(rec, lambda: committed.append(True))
    assert committed == [True]
    assert await store.pending_md5(tenant) == [rec.sha256]
    assert await store.pending_md5(older_than_seconds=3600) == []  # committed just now
    await store.set_md5(rec.sha256, "0" * 32)
    assert await store.pending_md5(tenant) == []
    found = await store.find_by_hash(tenant, md5="0" * 32)
    assert found is not None and found.id == "file-1"
    assert await store.blob_rows() == [(rec.sha256, "0" * 32, rec.bytes)]


async def test_an_upload_completes_once(store):
    _, tenant = await store.create_key("acme")
    now = now_us()
    up = UploadRecord("file-u", tenant, "a.txt", "assistants", "text/plain", now, now + 10, None)
    await store.create_upload(up)
    assert await store.get_upload(tenant, "file-u") == up
    assert await store.get_upload("tnt_other", "file-u") is None
    assert await store.complete_upload("file-u", "file-u")
    assert not await store.complete_upload("file-u", "file-u")  # the other PUT lost
    assert not await store.fail_upload("file-u", 415, "too late")
    assert await store.expired_uploads(now + 100) == []  # finished: not swept
    await store.delete_upload("file-u")
    assert await store.get_upload(tenant, "file-u") is None
