"""Three promises of the metadata and signing layer (#26 items 3, 4, 9), on both stacks:
a listing cursor survives its file's deletion, two PUTs to one upload URL are a 200 and a
409, and a signed URL dies with the API key that asked for it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx

import vlmfiles
from tests.server.helpers import assert_error, unique, upload


def _tenant(server) -> tuple[str, httpx.Client]:
    """A new tenant's key, and a client of the API with it."""
    key = server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    return key, server.client(key)


def test_deleting_while_iterating_visits_every_file_once(server):
    """``for f in client.files.list(): client.files.delete(f.id)`` over more than a page:
    the next page's cursor names a file the loop has deleted."""
    key, api = _tenant(server)
    n = 1005
    with api, ThreadPoolExecutor(8) as pool:
        made = set(pool.map(lambda _: upload(api, unique(16)).json()["id"], range(n)))
    assert len(made) == n
    seen: list[str] = []
    with vlmfiles.Client(api_key=key, base_url=server.base_url) as client:
        for f in client.files.list():
            seen.append(f.id)
            client.files.delete(f.id)
        assert list(client.files.list()) == []
    assert len(seen) == n and set(seen) == made


def test_a_cursor_of_a_deleted_file_continues_after_it(server):
    key, api = _tenant(server)
    with api:
        ids = [upload(api, unique()).json()["id"] for _ in range(4)]  # newest last
        assert api.delete(f"/files/{ids[2]}").status_code == 200
        page = api.get("/files", params={"after": ids[2]}).json()
        assert [f["id"] for f in page] == [ids[1], ids[0]]
        assert_error(api.get("/files", params={"after": "file_x"}), 400, "cursor", "file_x")


def test_two_puts_of_different_bytes_to_one_upload_url_are_200_and_409(server):
    """Both bodies are in flight before either commits; the second to commit meets the
    first's record under the upload's id (a 500 before the fix)."""
    key, api = _tenant(server)
    with api:
        p = api.post("/files/presigned-url", json={"filename": "a.bin"}).json()
        both_started = threading.Barrier(2, timeout=30)

        def put(content: bytes) -> httpx.Response:
            def body() -> Iterator[bytes]:
                yield content[:8]
                both_started.wait()
                yield content[8:]

            return httpx.put(p["url"], content=body(), timeout=60)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(put, [unique(4096), unique(4096)]))
        if server.is_s3:  # the URL is the object store's: the race is verify-upload's
            assert [r.status_code for r in answers] == [200, 200]
            with ThreadPoolExecutor(2) as pool:
                verified = list(
                    pool.map(lambda _: api.get(f"/files/verify-upload/{p['id']}"), range(2))
                )
            assert [r.status_code for r in verified] == [200, 200], [r.text for r in verified]
            assert verified[0].json()["id"] == verified[1].json()["id"] == p["id"]
            return
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        assert_error(next(r for r in answers if r.status_code == 409), 409, "already")
        won = next(r for r in answers if r.status_code == 200).json()
        assert api.get(f"/files/verify-upload/{p['id']}").json()["sha256"] == won["sha256"]


def test_signed_urls_die_with_the_key_that_asked_for_them(server):
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    doomed, kept = server.new_key(tenant), server.new_key(tenant)
    content = unique()
    with server.client(doomed) as api, server.client(kept) as other:
        f = upload(api, content).json()
        assert httpx.get(f["url"]).content == content
        p = api.post("/files/presigned-url", json={"filename": "late.bin"}).json()
        kept_url = other.get(f"/files/{f['id']}").json()["url"]
    assert server.cli("keys", "revoke", doomed).returncode == 0
    assert_error(httpx.get(f["url"]), 403, "revoked")
    assert httpx.get(kept_url).content == content  # another key's URL of the same file lives
    if not server.is_s3:  # our own upload URL (an object store's is the store's to honour)
        assert_error(httpx.put(p["url"], content=unique()), 403, "revoked")
