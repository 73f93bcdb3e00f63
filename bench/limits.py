"""This machine's limit for storing a file, measured on the same bytes in the same run.

A stored file needs its md5 and sha256 (computed in two threads) and a durable write to the
data disk (write + fsync). The limit is the slower of the two."""

from __future__ import annotations

import hashlib
import mmap
import os
import threading
import time
from pathlib import Path

from .payload import Payload


def hash_rate(payload: Payload) -> float:
    """MB/s for md5 and sha256 over the payload, each in its own thread."""

    def run(name: str) -> None:
        h = hashlib.new(name)
        for block in payload.blocks():
            h.update(block)

    t = time.perf_counter()
    threads = [threading.Thread(target=run, args=(n,)) for n in ("md5", "sha256")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return payload.size / 1e6 / (time.perf_counter() - t)


def disk_rate(payload: Payload, directory: Path) -> float:
    """MB/s to write the payload to ``directory`` and fsync it."""
    path = directory / f"disk-probe-{os.getpid()}"
    t = time.perf_counter()
    with open(path, "wb") as f:
        for block in payload.blocks():
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    rate = payload.size / 1e6 / (time.perf_counter() - t)
    path.unlink()
    return rate


def fresh_memory_rate(size: int = 256 * 1024 * 1024) -> float:
    """MB/s to fault in fresh anonymous memory, one write per 4 KiB page. Context for the
    large rows, not a limit: on a VM whose kernel reports free pages to the host (the
    benchmark machine is a Firecracker VM with free page reporting), memory handed out again
    can cost a host fault per page, ~3 s of kernel time per GiB when it does, against
    ~0.1 s when it does not; an upload's page cache comes from the same free memory."""
    m = mmap.mmap(-1, size)
    try:
        t = time.perf_counter()
        for offset in range(0, size, mmap.PAGESIZE):
            m[offset] = 1
        return size / 1e6 / (time.perf_counter() - t)
    finally:
        m.close()
