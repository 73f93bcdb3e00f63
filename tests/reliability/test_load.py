"""Load: many clients uploading, downloading and deleting mixed sizes at once, on each
stack. Nothing may fail, nothing may be lost or corrupted, memory stays bounded.

CI runs a reduced form. The full form (docs/reliability.md):

    VLMFILES_LOAD_FULL=1 .venv/bin/pytest tests/reliability -k load -s
"""

from __future__ import annotations

import hashlib
import inspect
import os
import random
import socket
import statistics
import threading
import time
import uuid

import pytest

from bench.memory import PeakRss
from vlmfiles.server.storage.s3 import S3BlobStore

FULL = os.environ.get("VLMFILES_LOAD_FULL") == "1"
CLIENTS = int(os.environ.get("VLMFILES_LOAD_CLIENTS", "64" if FULL else "12"))
SECONDS = float(os.environ.get("VLMFILES_LOAD_SECONDS", "300" if FULL else "12"))
MAX_BYTES = int(os.environ.get("VLMFILES_LOAD_MAX_MB", "64" if FULL else "4")) * 1024 * 1024
MiB = 1024 * 1024


def _size(rng: random.Random) -> int:
    """Log-uniform between 1 KiB and MAX_BYTES: mostly small files, some large."""
    return int(2 ** rng.uniform(10, MAX_BYTES.bit_length() - 1))


@pytest.mark.timeout(SECONDS + 600)  # the run itself, then every kept file is re-read
def test_mixed_load_loses_nothing(server):
    key = server.new_key(f"load-{uuid.uuid4().hex[:8]}")
    deadline = time.monotonic() + SECONDS
    errors: list[str] = []
    kept: dict[str, str] = {}  # id -> sha256
    small_latency: list[float] = []
    lock = threading.Lock()
    counts = {"uploads": 0, "downloads": 0, "deletes": 0, "bytes": 0}

    def client(n: int) -> None:
        rng = random.Random(n)
        mine: dict[str, str] = {}
        with server.client(key, timeout=120) as c:
            while time.monotonic() < deadline:
                try:
                    op = rng.random()
                    if op < 0.5 or not mine:
                        data = os.urandom(_size(rng))
                        r = c.post("/files", files={"file": (f"f{n}.bin", data)})
                        if r.status_code != 201:
                            errors.append(f"upload {r.status_code}: {r.text[:200]}")
                            continue
                        f = r.json()
                        if f["sha256"] != hashlib.sha256(data).hexdigest():
                            errors.append(f"upload {f['id']} recorded a wrong sha256")
                        mine[f["id"]] = f["sha256"]
                        with lock:
                            counts["uploads"] += 1
                            counts["bytes"] += len(data)
                    elif op < 0.8:
                        fid = rng.choice(list(mine))
                        h = hashlib.sha256()
                        with c.stream("GET", f"/files/{fid}/content") as r:
                            if r.status_code != 200:
                                errors.append(f"download {fid}: {r.status_code}")
                                continue
                            for chunk in r.iter_bytes():
                                h.update(chunk)
                        if h.hexdigest() != mine[fid]:
                            errors.append(f"download {fid} corrupted")
                        with lock:
                            counts["downloads"] += 1
                    elif op < 0.9:
                        fid = rng.choice(list(mine))
                        t = time.perf_counter()
                        r = c.get(f"/files/{fid}")
                        with lock:
                            small_latency.append(time.perf_counter() - t)
                        if r.status_code != 200:
                            errors.append(f"get {fid}: {r.status_code}")
                    else:
                        fid = rng.choice(list(mine))
                        r = c.delete(f"/files/{fid}")
                        if r.status_code != 200:
                            errors.append(f"delete {fid}: {r.status_code}")
                        mine.pop(fid)
                        with lock:
                            counts["deletes"] += 1
                except Exception as exc:  # a client-side failure is a failure too
                    errors.append(f"client {n}: {exc!r}")
        with lock:
            kept.update(mine)

    with PeakRss(server.proc.pid) as sampler:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [], errors[:20]

    # Every file still there is complete and correct.
    with server.client(key) as c:
        listed: set[str] = set()
        page = c.get("/files", params={"limit": 1000}).json()
        while page:  # every page, by cursor: a full run keeps thousands of files
            listed.update(f["id"] for f in page)
            page = c.get("/files", params={"limit": 1000, "after": page[-1]["id"]}).json()
        assert set(kept) <= listed
        for fid, sha in kept.items():
            h = hashlib.sha256()
            with c.stream("GET", f"/files/{fid}/content") as r:
                for chunk in r.iter_bytes():
                    h.update(chunk)
            assert h.hexdigest() == sha, fid
    growth = sampler.growth_mib
    # Per upload in flight: at most ~5 MiB of batches queued for the hash/write threads;
    # on S3 also the part buffers of all uploads together, a store-wide budget (s3_writer).
    parts = inspect.signature(S3BlobStore).parameters["buffer_size"].default / MiB
    bound = 64 + 6 * CLIENTS + (parts if server.is_s3 else 0)
    assert growth < bound, f"server RSS grew {growth:.0f} MiB (bound {bound:.0f})"
    p99 = sorted(small_latency)[int(0.99 * (len(small_latency) - 1))] * 1000 if small_latency else 0
    print(
        f"\nload [{CLIENTS} clients, {SECONDS:.0f} s, files up to {MAX_BYTES // MiB} MiB]: "
        f"{counts}, kept {len(kept)}, 0 errors, server RSS +{growth:.0f} MiB, "
        f"metadata GET p50 {statistics.median(small_latency or [0]) * 1000:.1f} ms p99 {p99:.1f} ms"
    )
    assert counts["uploads"] > CLIENTS


def test_slow_trickle_connections_do_not_starve_others(server):
    """500 connections that send a request a byte at a time: other clients still get
    through (each request answered; no timing asserted)."""
    n = 500 if FULL else 300
    key = server.new_key(f"slow-{uuid.uuid4().hex[:8]}")
    socks = []
    head = (
        f"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: multipart/form-data; boundary=abc\r\nContent-Length: 100000\r\n\r\n"
        '--abc\r\nContent-Disposition: form-data; name="file"; filename="slow"\r\n\r\n'
    ).encode()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(head[:20])
        socks.append(s)
    stop = threading.Event()

    def trickle() -> None:
        offset = 20
        while not stop.is_set() and offset < len(head):
            for s in socks:
                try:
                    s.sendall(head[offset : offset + 1])
                except OSError:
                    pass
            offset += 1
            time.sleep(0.2)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        with server.client(key, timeout=30) as c:
            for i in range(20):
                data = os.urandom(10_000 + i)
                r = c.post("/files", files={"file": ("ok.bin", data)})
                assert r.status_code == 201, r.text
                got = c.get(f"/files/{r.json()['id']}/content")
                assert got.content == data
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()
    # The abandoned uploads leave nothing behind.
    deadline = time.monotonic() + 15
    while server.staging() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.staging() == []
