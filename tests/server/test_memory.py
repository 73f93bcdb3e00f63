"""Server memory stays flat whatever the file size (streamed upload and download).

The size is VLMFILES_TEST_BIG_MB (default 512 MiB in CI; the benchmark runs 2 GiB)."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import psutil

MiB = 1024 * 1024
SIZE = int(os.environ.get("VLMFILES_TEST_BIG_MB", "512")) * MiB
BLOCK = os.urandom(MiB)


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


def _body(prefix: bytes):
    yield b'--abc\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
    yield prefix
    for _ in range(SIZE // MiB):
        yield BLOCK
    yield b"\r\n--abc--\r\n"


def test_big_upload_and_download_keep_server_memory_flat(server, api):
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
    assert up.growth < 64 * MiB, f"upload grew the server's RSS by {up.growth / MiB:.0f} MiB"

    got = hashlib.sha256()
    with PeakRss(server.proc.pid) as down, api.stream("GET", f"/files/{f['id']}/content") as resp:
        assert resp.status_code == 200
        for chunk in resp.iter_bytes():
            got.update(chunk)
    assert got.hexdigest() == f["sha256"]
    assert down.growth < 64 * MiB, f"download grew the server's RSS by {down.growth / MiB:.0f} MiB"
    api.delete(f"/files/{f['id']}")
