"""Small files keep their bytes in the metadata database (``inline_max_bytes``, 64 KiB by
default), committed in the transaction of their record: no blob file or object, nothing to
orphan, and every read, de-duplication, delete and check works the same."""

from __future__ import annotations

import sqlite3

import httpx

from tests.server.helpers import assert_error, md5, sha256, unique, upload
from tests.support.server import ServerProcess

INLINE_MAX = 64 * 1024  # the default


def test_up_to_the_limit_in_the_database_above_it_in_the_store(api, server):
    at_limit, above = unique(INLINE_MAX), unique(INLINE_MAX + 1)
    f = upload(api, at_limit).json()
    g = upload(api, above).json()
    inline, in_store = server.inline_blobs(), set(server.blob_store().keys())
    assert f["sha256"] in inline and f["sha256"] not in in_store
    assert g["sha256"] in in_store and g["sha256"] not in inline
    # Its md5 is known at once (a small body is hashed whole), as for any one-batch upload.
    assert f["md5"] == md5(at_limit)
    for rec, content in ((f, at_limit), (g, above)):
        assert api.get(f"/files/{rec['id']}/content").content == content


def test_a_small_file_is_served_whole_by_range_and_conditionally(api):
    content = unique(5000)
    f = upload(api, content, "page.bin").json()
    whole = api.get(f"/files/{f['id']}/content")
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["content-length"] == "5000"
    assert whole.headers["etag"] == f'"{f["sha256"]}"'
    assert whole.headers["content-type"] == "application/octet-stream"
    part = api.get(f"/files/{f['id']}/content", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == content[100:200]
    assert part.headers["content-range"] == "bytes 100-199/5000"
    tail = api.get(f"/files/{f['id']}/content", headers={"Range": "bytes=-10"})
    assert tail.content == content[-10:]
    past = api.get(f"/files/{f['id']}/content", headers={"Range": "bytes=5000-"})
    assert past.status_code == 416
    same = api.get(f"/files/{f['id']}/content", headers={"If-None-Match": whole.headers["etag"]})
    assert same.status_code == 304
    # The signed URL a prediction service would fetch, without the API key.
    assert httpx.get(f["url"]).content == content


def test_shared_small_bytes_are_kept_once_and_go_with_their_last_file(server):
    content = unique(3000)
    a_key, b_key = server.new_key("inline-a"), server.new_key("inline-b")
    with server.client(a_key) as a, server.client(b_key) as b:
        fa = upload(a, content).json()
        fb = upload(b, content).json()
        assert fa["id"] != fb["id"] and fa["sha256"] == fb["sha256"]
        assert server.stored_bytes(fa["sha256"]) == content
        assert a.delete(f"/files/{fa['id']}").status_code == 200
        assert b.get(f"/files/{fb['id']}/content").content == content
        assert fa["sha256"] in server.inline_blobs()
        assert b.delete(f"/files/{fb['id']}").status_code == 200
    assert fa["sha256"] not in server.blob_keys()


def test_a_small_presigned_put_through_the_server_is_kept_inline(api, server):
    content = unique(2000)
    p = api.post("/files/presigned-url", json={"filename": "x.bin", "purpose": "batch"}).json()
    assert httpx.put(p["url"], content=content).status_code == 200
    f = api.get(f"/files/verify-upload/{p['id']}").json()
    assert f["sha256"] == sha256(content)
    assert api.get(f"/files/{f['id']}/content").content == content
    if not server.is_s3:  # S3 takes the PUT itself; the server copies it within the store
        assert f["sha256"] in server.inline_blobs()
    assert server.staging() == []


def test_a_fine_tune_file_is_still_validated_when_kept_inline(api, server):
    bad = b'{"ok": 1}\n{"not json\n'
    r = upload(api, bad, "train.jsonl", purpose="fine-tune")
    assert r.status_code == 415 and "fine-tune" in r.json()["error"]["message"]
    assert sha256(bad) not in server.blob_keys()


def test_changing_the_limit_keeps_every_file_readable(tmp_path):
    """Bytes stay where they were written: files stored under one setting are read,
    de-duplicated and deleted under another."""
    srv = ServerProcess(data_dir=tmp_path / "data", env={"VLMFILES_INLINE_MAX_BYTES": "0"})
    srv.start()
    try:
        in_store = unique(1000)
        with srv.client() as c:
            f = upload(c, in_store).json()
        assert f["sha256"] in set(srv.blob_store().keys()) and not srv.inline_blobs()
        srv.stop()
        srv.env.pop("VLMFILES_INLINE_MAX_BYTES")
        srv.start()
        inline = unique(1000)
        with srv.client() as c:
            g = upload(c, inline).json()
            assert g["sha256"] in srv.inline_blobs()
            again = upload(c, in_store)
            assert again.json()["id"] == f["id"] and again.headers["x-deduplicated"] == "true"
            assert c.get(f"/files/{f['id']}/content").content == in_store
        # Another tenant's copy of the store-held bytes is written inline too: both copies
        # are the same bytes, and both go when the blob does.
        other = srv.new_key("other")
        with srv.client(other) as o:
            h = upload(o, in_store).json()
            assert h["sha256"] == f["sha256"]
        srv.stop()
        srv.env["VLMFILES_INLINE_MAX_BYTES"] = "0"
        srv.start()
        with srv.client() as c, srv.client(other) as o:
            assert c.get(f"/files/{g['id']}/content").content == inline
            c.delete(f"/files/{f['id']}")
            o.delete(f"/files/{h['id']}")
        assert f["sha256"] not in srv.blob_keys()
        srv.stop()
        check = srv.cli("fsck", "--verify-hashes", check=False)
        assert check.returncode == 0 and "0 problem(s)" in check.stdout, check.stdout
    finally:
        srv.stop()


def test_a_corrupt_small_file_is_never_served_and_fsck_names_it(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "data").start()
    try:
        content = unique(4096)
        with srv.client() as c:
            f = upload(c, content).json()
        db = sqlite3.connect(srv.data_dir / "metadata.sqlite3")
        flipped = bytearray(content)
        flipped[100] ^= 0xFF
        with db:
            db.execute(
                "UPDATE blob_data SET data = ? WHERE sha256 = ?", (bytes(flipped), f["sha256"])
            )
        db.close()
        with srv.client() as c:
            r = c.get(f"/files/{f['id']}/content")
            assert_error(r, 500, "integrity check")  # an answer, not corrupt bytes
            # A range is served without a full check (as from the blob store).
            ranged = c.get(f"/files/{f['id']}/content", headers={"Range": "bytes=0-9"})
            assert ranged.status_code == 206
        check = srv.cli("fsck", "--verify-hashes", check=False)
        assert check.returncode == 1 and f"corrupt blob {f['sha256']}" in check.stdout
    finally:
        srv.stop()


def test_the_limit_is_checked_when_the_server_starts(tmp_path):
    srv = ServerProcess(
        data_dir=tmp_path / "data", env={"VLMFILES_INLINE_MAX_BYTES": str(2 * 1024 * 1024)}
    )
    result = srv.cli("serve", check=False)
    assert result.returncode != 0
    assert "inline_max_bytes" in result.stdout + result.stderr
