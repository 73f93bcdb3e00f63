"""Tenant isolation on every endpoint, and signed URL checks."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.server.helpers import assert_error, md5, sha256, unique, upload


@pytest.fixture
def two_tenants(server):
    a = server.client(server.new_key(f"a-{uuid.uuid4().hex[:8]}"))
    b = server.client(server.new_key(f"b-{uuid.uuid4().hex[:8]}"))
    yield a, b
    a.close()
    b.close()


def test_another_tenants_ids_answer_404_everywhere(two_tenants):
    a, b = two_tenants
    content = unique()
    f = upload(a, content).json()
    missing = "file_" + "0" * 24
    for path in (f"/files/{f['id']}", f"/files/{f['id']}/content"):
        theirs, nobody = b.get(path), b.get(path.replace(f["id"], missing))
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.json()["error"]["type"] == nobody.json()["error"]["type"]
    assert b.delete(f"/files/{f['id']}").status_code == 404
    assert b.get(f"/files/hash/{md5(content)}").status_code == 404
    assert b.get(f"/files/hash/{sha256(content)}").status_code == 404
    assert b.get("/files").json() == []
    # An id is a place in the order (it carries its time): as a cursor, it shows B only B's.
    assert b.get("/files", params={"after": f["id"]}).json() == []
    p = a.post("/files/presigned-url", json={"filename": "x"}).json()
    assert b.get(f"/files/verify-upload/{p['id']}").status_code == 404
    # A's file is untouched.
    assert a.get(f"/files/{f['id']}/content").content == content


def test_same_bytes_in_two_tenants_are_two_records_one_blob(two_tenants, server):
    a, b = two_tenants
    content = unique()
    fa, fb = upload(a, content).json(), upload(b, content).json()
    assert fa["id"] != fb["id"]
    a.delete(f"/files/{fa['id']}")
    assert b.get(f"/files/{fb['id']}/content").content == content


def _with(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def test_signed_download_url_tampering_is_403(api, server):
    f = upload(api, unique()).json()
    url = f["url"]
    assert httpx.get(url).status_code == 200
    other = upload(api, unique()).json()
    forged = [
        _with(url, expires=str(int(time.time()) + 10**6)),  # extended expiry
        _with(url, signature="0" * 64),
        _with(url, signature="é"),
        _with(url, tenant="tnt_0000000000000000"),
        _with(url, expires="soon"),
        url.replace(f["id"], other["id"]),  # moved to another file
    ]
    for bad in forged:
        assert_error(httpx.get(bad), 403, "signed URL")
    # Without any signature and without a key: 401.
    assert httpx.get(url.split("?")[0]).status_code == 401


def test_signed_urls_ignore_a_spoofed_host_header(api, server):
    r = api.post("/files", files={"file": ("a.bin", unique())}, headers={"Host": "evil.example"})
    assert r.json()["url"].startswith(server.origin + "/v1/files/")
    p = api.post(
        "/files/presigned-url", json={"filename": "a"}, headers={"Host": "evil.example"}
    ).json()
    if server.is_s3:  # straight to the configured object store
        assert p["url"].startswith(server.blob_store().client.meta.endpoint_url)
        assert "evil.example" not in p["url"]
    else:
        assert p["url"].startswith(server.origin + "/v1/uploads/")


def test_upload_url_cannot_download_and_download_url_cannot_upload(api):
    f = upload(api, unique()).json()
    p = api.post("/files/presigned-url", json={"filename": "x"}).json()
    upload_as_download = p["url"].replace("/uploads/", "/files/").split("?")
    r = httpx.get(upload_as_download[0] + "/content?" + upload_as_download[1])
    assert r.status_code in (403, 404)
    download_as_upload = f["url"].replace("/files/", "/uploads/").replace("/content", "")
    assert httpx.put(download_as_upload, content=b"x").status_code == 403


def test_expired_upload_url_is_403(api, server):
    p = api.post("/files/presigned-url", json={"filename": "x", "expiration": 1}).json()
    time.sleep(1.2)
    late = httpx.put(p["url"], content=b"late")
    if server.is_s3:  # the object store's own refusal (XML, not our error shape)
        assert late.status_code == 403
    else:
        assert_error(late, 403, "expired")
    assert api.get(f"/files/verify-upload/{p['id']}").status_code == 404


def test_zero_expiry_is_refused(api):
    r = api.post("/files/presigned-url", json={"filename": "x", "expiration": 0})
    assert_error(r, 400, "expiration")


def test_revoked_key_stops_working_at_once(server):
    key = server.new_key(f"r-{uuid.uuid4().hex[:8]}")
    with server.client(key) as c:
        assert c.get("/health").status_code == 200
        out = server.cli("keys", "revoke", key)
        assert out.returncode == 0
        assert c.get("/health").status_code == 401
        assert c.get("/files").status_code == 401


def test_keys_are_stored_hashed(server):
    import asyncio

    from sqlalchemy import select

    from vlmfiles.server.metadata.store import open_metadata_store
    from vlmfiles.server.metadata.tables import api_keys
    from vlmfiles.server.security import hash_api_key

    key = server.new_key("hashed-check")

    async def dump() -> str:
        store = open_metadata_store(server.database_url)
        try:
            async with store.engine.connect() as conn:
                return repr([tuple(r) for r in await conn.execute(select(api_keys))])
        finally:
            await store.close()

    rows = asyncio.run(dump())
    assert key not in rows and key[5:] not in rows
    assert hash_api_key(key) in rows
    if not server.database_url.startswith("postgresql"):
        raw = (server.data_dir / "metadata.sqlite3").read_bytes()
        wal = server.data_dir / "metadata.sqlite3-wal"
        raw += wal.read_bytes() if wal.exists() else b""
        assert key.encode() not in raw
