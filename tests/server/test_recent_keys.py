"""Uploads start from the API keys that uploaded lately (``auth.RecentKeys``), so their
commit checks the key again: a key revoked before, or while, an upload is sent is refused
with a 401 and nothing of that upload is stored, on both stacks."""

from __future__ import annotations

import io
import uuid

from tests.server.helpers import assert_error, sha256, unique
from vlmfiles.server.auth import RecentKeys

MiB = 1024 * 1024


def _upload(client, content: bytes):
    return client.post("/files", files={"file": ("k.bin", io.BytesIO(content))})


def _two_keys(server) -> tuple[str, str]:
    """Two keys of one new tenant: one to revoke, one to look with."""
    tenant = f"rk-{uuid.uuid4().hex[:8]}"
    return server.new_key(tenant), server.new_key(tenant)


def test_an_upload_with_a_key_revoked_since_its_last_upload_is_refused(server):
    doomed, other = _two_keys(server)
    first = unique(4096)
    with server.client(doomed) as c, server.client(other) as keep:
        assert _upload(c, first).status_code == 201  # the key is now a recent one
        server.cli("keys", "revoke", doomed)
        before = server.blob_keys()
        small, large = unique(4096), unique(3 * MiB)  # kept in the database / the blob store
        for content in (small, large, first):  # new bytes, and a copy of a stored file
            assert_error(_upload(c, content), 401, "revoked")
        assert server.blob_keys() == before
        assert server.settled_staging() == []
        assert [f["sha256"] for f in keep.get("/files").json()] == [sha256(first)]
        assert _upload(keep, small).status_code == 201  # the tenant's other key still uploads


def test_a_key_revoked_while_its_upload_is_sent_stores_nothing(server):
    doomed, other = _two_keys(server)
    content = unique(4 * MiB)
    half = len(content) // 2

    def body():
        yield content[:half]
        server.cli("keys", "revoke", doomed)  # between the body's two halves
        yield content[half:]

    boundary = uuid.uuid4().hex

    def multipart():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="r.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        yield from body()
        yield f"\r\n--{boundary}--\r\n".encode()

    before = server.blob_keys()
    with server.client(doomed) as c, server.client(other) as keep:
        r = c.post(
            "/files",
            content=multipart(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert_error(r, 401, "revoked")
        assert keep.get("/files").json() == []
    assert server.blob_keys() == before
    assert server.settled_staging() == []


def test_recent_keys_expire_and_stay_bounded():
    now = [1000.0]
    keys = RecentKeys(max_entries=2, ttl=10.0, clock=lambda: now[0])
    keys.put("a", "tenant-a")
    assert keys.get("a") == "tenant-a"
    now[0] += 10.0
    assert keys.get("a") is None  # expired: the next upload looks the key up again
    keys.put("a", "tenant-a")
    keys.put("b", "tenant-b")
    keys.get("a")  # a used key is kept over one unused since
    keys.put("c", "tenant-c")
    assert (keys.get("a"), keys.get("b"), keys.get("c")) == ("tenant-a", None, "tenant-c")
    keys.forget("a")
    assert keys.get("a") is None and len(keys) == 1
