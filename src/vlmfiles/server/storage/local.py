"""Blobs as files on a local disk: ``ROOT/ab/cd/abcd…`` (sha256 fan-out), staging in ``ROOT/.staging``.

Durability follows the classic recipe: write the temp file, fsync it, rename it into place,
fsync the directory. A crash at any point leaves either the complete blob or none under its
key; the only leftovers are staging files, named after the writing process's PID so that a
sweep can tell a dead writer's file from a live one's.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from .base import BlobNotFound, is_hex_digest

CHUNK = 1024 * 1024
# Start writing dirty pages to disk every this many bytes instead of leaving the whole file
# to the fsync at the end, so the disk works while the body is still arriving.
WRITEBACK = 16 * CHUNK


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalBlobWriter:
    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self.path = store.staging / f"{os.getpid()}-{uuid.uuid4().hex}"
        self._file = open(self.path, "xb")  # noqa: SIM115 (closed in commit/abort)
        self._done = False
        self._written = 0
        self._started = 0  # bytes already handed to the kernel's writeback

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._written += len(data)
        if self._written - self._started >= WRITEBACK:
            self._start_writeback()

    def _start_writeback(self) -> None:
        # Without this the kernel keeps the whole file dirty in memory (up to
        # dirty_background_ratio, gigabytes here) and the final fsync writes all of it while
        # the client waits. POSIX_FADV_DONTNEED starts writeback of the range without
        # waiting for it (and drops its clean pages from the cache): what PostgreSQL's
        # pg_flush_data falls back to where sync_file_range, which Python lacks, is missing.
        self._file.flush()
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(
                self._file.fileno(),
                self._started,
                self._written - self._started,
                os.POSIX_FADV_DONTNEED,
            )
        self._started = self._written

    @property
    def prepared(self) -> bool:
        """``prepare`` has run (the file is fsynced and closed)."""
        return self._file.closed

    def prepare(self) -> None:
        """Make the staged bytes durable (the slow fsync), before any lock is taken."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def commit(self, key: str) -> None:
        self.prepare()
        final = self._store.path_for(key)
        if final.exists():
            self.abort()
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, final)
        _fsync_dir(final.parent)
        self._done = True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._file.close()
        self.path.unlink(missing_ok=True)


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / ".staging"
        self.staging.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        if not is_hex_digest(key, 64):
            raise ValueError(f"blob keys are sha256 hex digests, got {key!r}")
        return self.root / key[:2] / key[2:4] / key

    def writer(self) -> LocalBlobWriter:
        return LocalBlobWriter(self)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self.path_for(key).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            f = open(self.path_for(key), "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        return self._iter(f, start, end)

    @staticmethod
    def _iter(f, start: int, end: int | None) -> Iterator[bytes]:
        with f:
            f.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                n = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = f.read(n)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(path.parent)

    def keys(self) -> Iterator[str]:
        for path in self.root.glob("??/??/*"):
            if path.is_file() and len(path.name) == 64:
                yield path.name

    def sweep_staging(self, older_than_seconds: float) -> int:
        """Remove staging files of dead processes, and any older than ``older_than_seconds``."""
        removed = 0
        cutoff = time.time() - older_than_seconds
        for path in self.staging.iterdir():
            pid_text = path.name.split("-", 1)[0]
            dead = pid_text.isdigit() and not _pid_alive(int(pid_text))
            try:
                old = path.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue
            if dead or old:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
