"""kill -9 at points of an upload, then restart: the file is complete or absent, nothing is
orphaned, fsck finds nothing. And identical bytes uploaded at once by many tenants."""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.server.helpers import unique, upload
from tests.support.server import ServerProcess

TOTAL = 4 * 1024 * 1024


@pytest.mark.parametrize("fraction", [0.10, 0.50, 0.99, 1.0])
def test_kill_9_during_an_upload(tmp_path, fraction):
    srv = ServerProcess(data_dir=tmp_path / "data").start()
    head = b'--abc\r\nContent-Disposition: form-data; name="file"; filename="k.bin"\r\n\r\n'
    tail = b"\r\n--abc--\r\n"
    content = unique(TOTAL)
    body = head + content + tail
    cut = len(body) if fraction == 1.0 else int(len(head) + TOTAL * fraction)
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(
        (
            f"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {srv.api_key}\r\n"
            f"Content-Type: multipart/form-data; boundary=abc\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body[:cut]
    )
    time.sleep(0.3)  # let the server take in what was sent (at 100%, maybe commit it)
    srv.kill()
    s.close()
    srv.start()
    try:
        with srv.client() as c:
            files = c.get("/files").json()
            for f in files:  # complete and correct, or absent
                got = c.get(f"/files/{f['id']}/content").content
                assert (
                    hashlib.sha256(got).hexdigest()
                    == f["sha256"]
                    == hashlib.sha256(content).hexdigest()
                )
            if fraction < 1.0:
                assert files == []
        assert srv.staging() == []
        srv.stop()
        check = srv.cli("fsck", "--verify-hashes", check=False)
        assert check.returncode == 0, check.stdout
        assert "0 problem(s)" in check.stdout
    finally:
        srv.stop()


def test_identical_bytes_from_many_tenants_at_once(server):
    content = unique(300_000)
    keys = [server.new_key(f"same-{uuid.uuid4().hex[:8]}") for _ in range(10)]

    def go(i: int) -> tuple[int, dict]:
        with server.client(keys[i % len(keys)]) as c:
            r = upload(c, content, "same.bin")
            assert r.status_code == 201, r.text
            return i % len(keys), r.json()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(go, range(50)))
    by_tenant: dict[int, set[str]] = {}
    for tenant, f in results:
        by_tenant.setdefault(tenant, set()).add(f["id"])
    assert all(len(ids) == 1 for ids in by_tenant.values())  # one record per tenant
    assert len({next(iter(ids)) for ids in by_tenant.values()}) == len(keys)
    sha = hashlib.sha256(content).hexdigest()
    assert sha in server.blob_keys()  # one blob, shared
    for tenant, ids in by_tenant.items():
        with server.client(keys[tenant]) as c:
            assert c.get(f"/files/{next(iter(ids))}/content").content == content
