"""Blobs as files on a local disk: ``ROOT/ab/cd/abcd…`` (sha256 fan-out), staging in ``ROOT/.staging``.

Durability follows the classic recipe: write the temp file, fsync it, rename it into place,
fsync the directory. A crash at any point leaves either the complete blob or none under its
key; the only leftovers are staging files, named after the writing process's PID so that a
sweep can tell a dead writer's file from a live one's.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import mmap
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from .base import BlobNotFound, is_hex_digest

CHUNK = 1024 * 1024
# Start writing dirty pages to disk every this many bytes instead of leaving the whole file
# to the fsync at the end, so the disk works while the body is still arriving.
WRITEBACK = 16 * CHUNK
DIRECT_BUFFER = 2 * CHUNK  # bytes gathered for each O_DIRECT write
ALIGN = 4096  # O_DIRECT offsets and lengths: a multiple of the disk's block size (512 or 4096)


class _AlignedBuffers:
    """Page-aligned buffers (anonymous ``mmap``) for O_DIRECT writes, kept for reuse.

    Reused because fresh memory is not free: the kernel faults it in page by page (on a VM
    with free page reporting, each page costs a host fault too), which is the very cost
    O_DIRECT saves over the page cache. Up to ``keep`` idle buffers are held; more concurrent
    writers get new ones, unmapped when given back."""

    def __init__(self, size: int, keep: int) -> None:
        self.size = size
        self.keep = keep
        self._idle: list[mmap.mmap] = []
        self._lock = threading.Lock()

    def take(self) -> mmap.mmap:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return mmap.mmap(-1, self.size)

    def give_back(self, buf: mmap.mmap) -> None:
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(buf)
                return
        buf.close()


_buffers = _AlignedBuffers(DIRECT_BUFFER, keep=8)


# Full buffers are written here while the writer's own thread (hashing the upload) fills
# the next one: an O_DIRECT write returns only once the disk has the bytes.
@functools.cache
def _disk() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="vlmfiles-disk")


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _write_all_from(fd: int, buf: mmap.mmap) -> None:
    with memoryview(buf) as view:
        _write_all(fd, view)


def _read_direct(fd: int, refused: Callable[[], None]) -> Iterator[memoryview]:
    """Read ``fd`` (opened with O_DIRECT) to its end, a buffer ahead on the disk thread.
    Should the file system refuse the first read (some FUSE file systems take the flag at
    ``open`` and refuse reads with EINVAL), ``refused()`` is called and the file is read
    through the page cache instead."""
    bufs = (_buffers.take(), _buffers.take())
    ahead: Future[int] | None = _disk().submit(os.preadv, fd, [bufs[0]], 0)
    offset, i = 0, 0
    try:
        while ahead is not None:
            reading, ahead = ahead, None
            try:
                n = reading.result()
            except OSError as exc:
                if exc.errno != errno.EINVAL or offset:
                    raise
                refused()
                _set_direct(fd, False)
                n = os.preadv(fd, [bufs[i]], 0)
            if n == DIRECT_BUFFER:  # a short read is the end of the file
                ahead = _disk().submit(os.preadv, fd, [bufs[1 - i]], offset + n)
            if n:
                with memoryview(bufs[i]) as whole, whole[:n] as view:
                    yield view
            offset += n
            i = 1 - i
    finally:
        try:
            if ahead is not None:  # let the disk thread finish with its buffer
                ahead.result()
        finally:
            os.close(fd)
            for buf in bufs:
                _buffers.give_back(buf)


def _set_direct(fd: int, on: bool) -> None:
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_DIRECT if on else flags & ~os.O_DIRECT)


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
    """Stages one blob. Where the file system takes O_DIRECT (``store.direct``) the bytes
    gather in a page-aligned buffer and go to the disk from it, past the page cache, one
    full buffer at a time on a disk thread while the other buffer fills; the last partial
    block goes through the page cache. Elsewhere they are written through the page cache,
    with writeback started as they come."""

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self.path = store.staging / f"{os.getpid()}-{uuid.uuid4().hex}"
        self._file = open(self.path, "xb")  # noqa: SIM115 (closed in commit/abort)
        self._done = False
        self._written = 0
        self._started = 0  # bytes already handed to the kernel's writeback
        self._gathering = store.direct  # decided per writer: its bytes must stay in order
        self._direct = False  # the file descriptor is in O_DIRECT mode
        self._buf: mmap.mmap | None = None  # filling: ``_fill`` bytes so far
        self._fill = 0
        self._spare: mmap.mmap | None = None  # the buffer being written, or written
        self._inflight: Future[None] | None = None

    def write(self, data: bytes) -> None:
        if self._gathering:
            self._gather(data)
            return
        self._file.write(data)
        self._written += len(data)
        if self._written - self._started >= WRITEBACK:
            self._start_writeback()

    # O_DIRECT ----------------------------------------------------------------------------

    def _gather(self, data: bytes) -> None:
        """Copy ``data`` into the aligned buffer, writing the buffer out each time it fills."""
        with memoryview(data) as view:
            while view:
                if self._buf is None:
                    self._buf = _buffers.take()
                n = min(len(view), DIRECT_BUFFER - self._fill)
                self._buf[self._fill : self._fill + n] = view[:n]
                self._fill += n
                view = view[n:]
                if self._fill == DIRECT_BUFFER:
                    self._write_full()
        self._written += len(data)

    def _write_full(self) -> None:
        """Hand the full buffer to the disk thread and go on filling the other one (the
        first one is written here, to find out whether the file system takes O_DIRECT)."""
        if not self._direct:
            self._write_head(DIRECT_BUFFER)
            return
        self._wait_inflight()
        full, self._fill = self._buf, 0
        assert full is not None
        self._buf, self._spare = self._spare, full
        self._inflight = _disk().submit(_write_all_from, self._file.fileno(), full)

    def _write_head(self, n: int) -> None:
        """Write the buffer's first ``n`` bytes (a multiple of ALIGN) here and now, with
        O_DIRECT unless the file system refuses it; keep the rest at the buffer's start."""
        assert self._buf is not None and n % ALIGN == 0
        fd = self._file.fileno()
        with memoryview(self._buf) as view:
            if self._direct or not self._store.direct:
                _write_all(fd, view[:n])
            else:
                at = os.lseek(fd, 0, os.SEEK_CUR)
                try:
                    _set_direct(fd, True)
                    _write_all(fd, view[:n])
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    # The file system takes no O_DIRECT (tmpfs before Linux 6.6, some FUSE
                    # ones): through the page cache, here and for every later blob.
                    self._store.direct = False
                    _set_direct(fd, False)
                    os.lseek(fd, at, os.SEEK_SET)
                    _write_all(fd, view[:n])
                else:
                    self._direct = True
            view[: self._fill - n] = view[n : self._fill]
        self._fill -= n

    def _write_rest(self) -> None:
        """Wait for the disk thread, then write what is left in the buffer: its whole
        blocks with O_DIRECT, the last partial block through the page cache."""
        self._wait_inflight()
        if self._fill:
            assert self._buf is not None
            if self._direct:
                self._write_head(self._fill - self._fill % ALIGN)
                _set_direct(self._file.fileno(), False)
            with memoryview(self._buf) as view:
                _write_all(self._file.fileno(), view[: self._fill])
            self._fill = 0
        self._release_buffers()

    def _wait_inflight(self) -> None:
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            inflight.result()

    def _release_buffers(self) -> None:
        try:
            self._wait_inflight()  # the disk thread is done with the spare buffer
        finally:
            for buf in (self._buf, self._spare):
                if buf is not None:
                    _buffers.give_back(buf)
            self._buf = self._spare = None

    # Through the page cache ------------------------------------------------------------

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

    # The BlobWriter interface ----------------------------------------------------------

    def expect(self, key: str) -> None:
        pass  # staged under a temp name and renamed at commit: the final name gains nothing

    @property
    def prepared(self) -> bool:
        """``prepare`` has run (the file is fsynced and closed)."""
        return self._file.closed

    def prepare(self) -> None:
        """Make the staged bytes durable (the slow fsync), before any lock is taken."""
        if not self._file.closed:
            if self._gathering:
                self._write_rest()
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
        try:
            self._release_buffers()
        except OSError:  # the failed disk write that made us abort, reported already
            pass
        self._file.close()
        self.path.unlink(missing_ok=True)


class LocalBlobStore:
    wants_sha256_first = False  # its writers stage to a temp file and rename: no gain

    def __init__(self, root: Path, *, direct: bool = True) -> None:
        self.root = root
        self.staging = root / ".staging"
        self.staging.mkdir(parents=True, exist_ok=True)
        # Write blobs with O_DIRECT (where the OS and file system have it; turned off at
        # the first write the file system refuses).
        self.direct = direct and hasattr(os, "O_DIRECT")

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

    def close(self) -> None:
        pass

    def read_once(self, key: str) -> Iterator[bytes | memoryview]:
        """The whole blob for one pass that need not stay cached (the md5 filled in after
        an upload): read with O_DIRECT where the file system has it, so it faults no fresh
        page-cache memory in, the next 2 MiB on the disk thread while the caller works on
        this one. Each chunk is a view into a reused buffer, valid until the next is asked
        for."""
        if not self.direct:
            return iter(self.read(key))
        try:
            fd = os.open(self.path_for(key), os.O_RDONLY | os.O_DIRECT)
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self.direct = False
            return iter(self.read(key))
        return _read_direct(fd, self._refused_direct)

    def _refused_direct(self) -> None:
        self.direct = False  # not asked again, for reads or writes

    @staticmethod
    def _iter(f: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
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
