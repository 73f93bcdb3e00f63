"""Interrupted uploads leave nothing; concurrent uploads and deletes never lose a file."""

from __future__ import annotations

import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.server.helpers import sha256, unique, upload
from tests.support.server import ServerProcess


def _blob_files(data_dir) -> list:
    return [p for p in (data_dir / "blobs").glob("??/??/*") if p.is_file()]


def _staging(data_dir) -> list:
    return list((data_dir / "blobs" / ".staging").iterdir())


def _wait_until(cond, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def _start_upload(port: int, key: str, total: int, send: int) -> socket.socket:
    """Open a multipart upload declaring ``total`` file bytes and send only ``send``."""
    head = b'--abc\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n\r\n'
    tail = b"\r\n--abc--\r\n"
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(
        (
            f"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: multipart/form-data; boundary=abc\r\n"
            f"Content-Length: {len(head) + total + len(tail)}\r\n\r\n"
        ).encode()
        + head
    )
    s.sendall(unique(send))
    return s


def _errors_logged(server) -> int:
    log = server.log()
    return log.count("internal error in") + log.count("Exception in ASGI application")


def test_upload_cut_off_mid_stream_leaves_no_file_and_no_staging(server, api):
    """A client going away mid-body (our SDK does it on purpose when it finds the content
    meanwhile) aborts the upload; it is not logged as a server error."""
    key = api.headers["authorization"].split()[1]
    before, errors = server.blob_keys(), _errors_logged(server)
    s = _start_upload(server.port, key, total=24 * 1024 * 1024, send=20 * 1024 * 1024)
    assert _wait_until(lambda: server.staging() != []), "the upload should be staging"
    s.close()
    assert _wait_until(lambda: server.staging() == [])
    assert api.get("/files").json() == []
    assert server.blob_keys() == before
    assert _errors_logged(server) == errors


def test_kill_9_mid_upload_then_restart_cleans_up(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "data").start()
    try:
        with srv.client() as c:
            kept = upload(c, unique(100_000)).json()  # above inline_max_bytes: a blob file
        s = _start_upload(srv.port, srv.api_key, total=8 * 1024 * 1024, send=2 * 1024 * 1024)
        assert _wait_until(lambda: _staging(srv.data_dir) != [])
        srv.kill()
        s.close()
        assert _staging(srv.data_dir), "a killed server leaves its staging file behind"
        srv.start()  # same data dir, same port
        assert _staging(srv.data_dir) == []
        with srv.client() as c:
            files = c.get("/files").json()
            assert [f["id"] for f in files] == [kept["id"]]
            assert c.get(f"/files/{kept['id']}/content").status_code == 200
        assert len(_blob_files(srv.data_dir)) == 1
        srv.stop()
        check = srv.cli("fsck", "--verify-hashes", check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "0 problem(s)" in check.stdout
    finally:
        srv.stop()


def test_a_flipped_byte_is_never_served_and_fsck_names_it(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "data").start()
    try:
        content = unique(300_000)
        with srv.client() as c:
            f = upload(c, content).json()
        (blob,) = _blob_files(srv.data_dir)
        data = bytearray(blob.read_bytes())
        data[150_000] ^= 0xFF
        blob.write_bytes(bytes(data))
        with srv.client() as c:
            try:
                r = c.get(f"/files/{f['id']}/content")
                served = r.content
            except httpx.HTTPError:
                served = None  # the server broke the response off: what we want
            assert served != bytes(data), "corrupt bytes were served in full"
        check = srv.cli("fsck", "--verify-hashes", check=False)
        assert check.returncode == 1 and f"corrupt blob {f['sha256']}" in check.stdout
    finally:
        srv.stop()


def test_fsck_reports_and_repairs_orphans(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "data").start()
    srv.stop()
    orphan = srv.data_dir / "blobs" / "ab" / "cd" / ("abcd" + "0" * 60)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"nobody's")
    check = srv.cli("fsck", check=False)
    assert check.returncode == 1 and "orphan object" in check.stdout
    assert srv.cli("fsck", "--repair", check=False).returncode == 0
    assert not orphan.exists()
    assert srv.cli("fsck", check=False).returncode == 0


def test_concurrent_identical_uploads_end_as_one_record(server):
    key = server.new_key(f"c-{uuid.uuid4().hex[:8]}")
    content = unique(256 * 1024)

    def go(_: int) -> dict:
        with server.client(key) as c:
            r = upload(c, content, "same.bin")
            assert r.status_code == 201, r.text
            return r.json()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(go, range(32)))
    assert len({r["id"] for r in results}) == 1
    with server.client(key) as c:
        assert len(c.get("/files").json()) == 1
        assert sha256(c.get(f"/files/{results[0]['id']}/content").content) == sha256(content)
    assert server.staging() == []


def test_delete_racing_an_upload_of_the_same_content_never_loses_the_new_file(server):
    key = server.new_key(f"r-{uuid.uuid4().hex[:8]}")
    with server.client(key) as c:
        for round_ in range(15):
            content = unique(64 * 1024)
            old = upload(c, content, purpose="batch").json()

            def delete_old(old: dict = old) -> int:
                with server.client(key) as c2:
                    return c2.delete(f"/files/{old['id']}").status_code

            def upload_new(content: bytes = content) -> dict:
                with server.client(key) as c2:
                    return upload(c2, content, purpose="datasets").json()

            with ThreadPoolExecutor(2) as pool:
                d = pool.submit(delete_old)
                u = pool.submit(upload_new)
                assert d.result() == 200
                new = u.result()
            r = c.get(f"/files/{new['id']}/content")
            assert r.status_code == 200, f"round {round_}: {r.text}"
            assert r.content == content
            c.delete(f"/files/{new['id']}")


def test_presigned_put_cut_off_leaves_nothing(server, api):
    p = api.post("/files/presigned-url", json={"filename": "x"}).json()
    url = httpx.URL(p["url"])
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(
        f"PUT {url.raw_path.decode()} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n".encode()
        + unique(1_000_000)
    )
    time.sleep(0.2)
    s.close()
    assert _wait_until(lambda: server.staging() == [])
    assert api.get(f"/files/verify-upload/{p['id']}").status_code == 409
    # The URL still works for a complete upload afterwards.
    assert httpx.put(p["url"], content=unique(1000)).status_code == 200


def test_bytes_a_crash_left_without_a_record_are_gone_after_restart(tmp_path):
    """What a kill -9 between the blob commit and the metadata commit leaves: bytes under
    their key with no row. The embedded server removes them when it starts again."""
    srv = ServerProcess(data_dir=tmp_path / "data").start()
    with srv.client() as c:
        kept = upload(c, unique(5000)).json()
    srv.kill()
    leftover = bytes(unique(7000))
    key = sha256(leftover)
    path = srv.data_dir / "blobs" / key[:2] / key[2:4] / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(leftover)
    srv.start()
    try:
        assert not path.exists()
        with srv.client() as c:
            assert c.get(f"/files/{kept['id']}/content").status_code == 200
        srv.stop()
        check = srv.cli("fsck", "--verify-hashes", check=False)
        assert check.returncode == 0 and "0 problem(s)" in check.stdout
    finally:
        srv.stop()


def test_sigterm_lets_in_flight_uploads_finish(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "data").start()
    content = unique(24 * 1024 * 1024)
    result: dict = {}

    def slow_body():
        head = b'--abc\r\nContent-Disposition: form-data; name="file"; filename="s.bin"\r\n\r\n'
        yield head
        for i in range(0, len(content), 1024 * 1024):
            yield content[i : i + 1024 * 1024]
            time.sleep(0.05)
        yield b"\r\n--abc--\r\n"

    def go() -> None:
        with srv.client() as c:
            result["r"] = c.post(
                "/files",
                content=slow_body(),
                headers={"Content-Type": "multipart/form-data; boundary=abc"},
            )

    import threading

    t = threading.Thread(target=go)
    t.start()
    assert _wait_until(lambda: srv.staging() != [])
    srv.proc.terminate()  # SIGTERM while the upload streams
    t.join(timeout=60)
    srv.proc.wait(timeout=30)
    r = result["r"]
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == sha256(content)
    srv.start()
    try:
        with srv.client() as c:
            f = r.json()
            assert sha256(c.get(f"/files/{f['id']}/content").content) == sha256(content)
        assert srv.staging() == []
    finally:
        srv.stop()
