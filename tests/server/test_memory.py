"""Server memory stays flat whatever the file size (streamed upload and download).

The size is VLMFILES_TEST_BIG_MB (default 512 MiB in CI; the benchmark runs 2 GiB)."""

from __future__ import annotations

import hashlib
import os

from bench.memory import PeakRss

MiB = 1024 * 1024
SIZE = int(os.environ.get("VLMFILES_TEST_BIG_MB", "512")) * MiB
BLOCK = os.urandom(MiB)


def _body(prefix: bytes, size: int = SIZE):
    yield b'--abc\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
    yield prefix
    for _ in range(size // MiB):
        yield BLOCK
    yield b"\r\n--abc--\r\n"


def _warm_up(api) -> None:
    """One 32 MiB round trip first: the allocator's first touch of its arenas (which
    depends on what the shared server ran before) is not growth with the file's size."""
    headers = {"Content-Type": "multipart/form-data; boundary=abc"}
    r = api.post("/files", content=_body(os.urandom(16), 32 * MiB), headers=headers)
    assert r.status_code == 201, r.text
    with api.stream("GET", f"/files/{r.json()['id']}/content") as resp:
        for _ in resp.iter_bytes():
            pass
    api.delete(f"/files/{r.json()['id']}")


def test_big_upload_and_download_keep_server_memory_flat(server, api):
    _warm_up(api)
    prefix = os.urandom(16)
    expected = hashlib.sha256(prefix)
    for _ in range(SIZE // MiB):
        expected.update(BLOCK)
    with PeakRss(server.proc.pid) as up:
        r = api.post(
            "/files",
            content=_body(prefix),
            headers={"Content-Type": "multipart/form-data; boundary=abc"},
            timeout=600,
        )
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["bytes"] == SIZE + 16 and f["sha256"] == expected.hexdigest()
    assert up.growth_mib < 64, f"upload grew the server's RSS by {up.growth_mib:.0f} MiB"

    got = hashlib.sha256()
    with PeakRss(server.proc.pid) as down, api.stream("GET", f"/files/{f['id']}/content") as resp:
        assert resp.status_code == 200
        for chunk in resp.iter_bytes():
            got.update(chunk)
    assert got.hexdigest() == f["sha256"]
    assert down.growth_mib < 64, f"download grew the server's RSS by {down.growth_mib:.0f} MiB"
    api.delete(f"/files/{f['id']}")
