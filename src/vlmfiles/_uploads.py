"""What ``files.upload`` needs before it sends anything: the source, its hash, the body.

A source is a path or a binary file object. Nothing here reads a whole file into memory:
the hash is computed in 1 MiB chunks, and the multipart body is a generator that rewinds
the file first, so a retried upload sends the same bytes again.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import stat
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union

log = logging.getLogger("vlmfiles")

CHUNK = 1024 * 1024

FileSource = Union[str, "os.PathLike[str]", IO[bytes]]
ProgressCallback = Callable[[int, int], Any]
"""``on_progress(bytes_sent, total_bytes)``, called as the upload streams."""


@dataclass
class Source:
    """An open upload source. Close it with ``close()`` (only closes what we opened)."""

    fileobj: IO[bytes]
    filename: str
    size: int | None
    start: int  # where the bytes begin in ``fileobj`` (a handle may be mid-file)
    seekable: bool
    owned: bool

    def close(self) -> None:
        if self.owned:
            self.fileobj.close()

    def rewind(self) -> None:
        if self.seekable:
            self.fileobj.seek(self.start)

    def chunks(self) -> Iterator[bytes]:
        self.rewind()
        while chunk := self.fileobj.read(CHUNK):
            yield chunk


def open_source(file: FileSource, filename: str | None) -> Source:
    """Open ``file`` (a path, or a binary file object) for uploading.

    A missing path raises the built-in ``FileNotFoundError`` before any request."""
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"File not found: {path}")
        f = open(path, "rb")  # noqa: SIM115 - closed by Source.close
        return Source(f, filename or path.name, path.stat().st_size, 0, True, True)
    if not hasattr(file, "read"):
        raise TypeError(
            f"Expected a path or a binary file object to upload, got {type(file).__name__}"
        )
    if isinstance(file, io.TextIOBase):
        raise TypeError("Open the file in binary mode ('rb') to upload it.")
    name = filename or Path(str(getattr(file, "name", "") or "file")).name or "file"
    seekable = bool(getattr(file, "seekable", lambda: False)())
    size = None
    start = 0
    if seekable:
        start = file.tell()
        size = file.seek(0, io.SEEK_END) - start
        file.seek(start)
    return Source(file, name, size, start, seekable, False)


def _file_stat(source: Source) -> os.stat_result | None:
    """The stat of the file behind ``source`` if the upload is that whole file, else None."""
    try:
        st = os.fstat(source.fileobj.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    if source.start != 0 or source.size != st.st_size or not stat.S_ISREG(st.st_mode):
        return None
    return st


class _HashCache:
    """The sha256s of files this process has hashed, by what identifies an unchanged file.

    The key is (device, inode, size, mtime, ctime) in nanoseconds. Any write to a file moves
    its ctime to the current time, and programs cannot set ctime back (``touch`` and
    ``utime`` set mtime only), so a file with the same key has not been written since it was
    hashed: the stat check git, rsync and Mercurial rely on, with ctime added. Two guards
    against the kernel's coarse file clock: an entry is kept only if the file's stat was the
    same before and after hashing, and only if its last change was over a second before the
    hashing began, so a later write cannot land in the same clock tick as the hashed state.
    """

    MAX_ENTRIES = 4096
    SETTLED_NS = 1_000_000_000

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[int, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(st: os.stat_result) -> tuple[int, ...]:
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def get(self, source: Source) -> str | None:
        st = _file_stat(source)
        if st is None:
            return None
        with self._lock:
            sha = self._entries.get(self._key(st))
            if sha is not None:
                self._entries.move_to_end(self._key(st))
            return sha

    def put(
        self,
        before: os.stat_result | None,
        after: os.stat_result | None,
        began_ns: int,
        sha256: str,
    ) -> None:
        if before is None or after is None or self._key(before) != self._key(after):
            return
        if max(before.st_mtime_ns, before.st_ctime_ns) > began_ns - self.SETTLED_NS:
            return  # changed just before hashing: too close to trust the stat
        with self._lock:
            self._entries[self._key(before)] = sha256
            self._entries.move_to_end(self._key(before))
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)


known_hashes = _HashCache()


def sha256_of(source: Source) -> str:
    """The source's sha256 (remembered for an unchanged file: see ``_HashCache``)."""
    if (known := known_hashes.get(source)) is not None:
        return known
    began, before = time.time_ns(), _file_stat(source)
    h = hashlib.sha256()
    for chunk in source.chunks():
        h.update(chunk)
    source.rewind()
    digest = h.hexdigest()
    known_hashes.put(before, _file_stat(source), began, digest)
    return digest


def _quote(name: str) -> str:
    # What browsers do for form-data names (WHATWG): escape quote, CR and LF.
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


HASH_AHEAD_MIN = 32 * 1024 * 1024
"""Files at least this large are hashed beside their upload rather than before it."""


class Superseded(Exception):
    """Raised inside an upload body to stop sending it: the server has the content already."""


class HashAhead:
    """A large file's sha256, computed in a thread while its upload is already sending.

    Hashing first and sending after costs a whole pass over every new file before its first
    byte goes out. Beside the upload it costs nothing extra for new content; when the hash
    turns out to be known, ``found`` is set and the body raises ``Superseded`` before its
    next chunk, so the upload stops where it is and the existing file is returned. The sha256 then follows the bytes as a form field, and the
    server refuses bytes that do not match it.

    The thread reads with ``pread`` on its own duplicate of the file descriptor, so it
    neither moves the sending side's position nor reads a recycled descriptor if the
    upload ends first."""

    def __init__(self, source: Source) -> None:
        """Start hashing. The body (``MultipartBody``) looks the hash up once it is done."""
        assert source.size is not None
        self._fd = os.dup(source.fileobj.fileno())
        self._began, self._before = time.time_ns(), _file_stat(source)
        self._start = source.start
        self._size = source.size
        self.sha256: str | None = None
        self.error: BaseException | None = None
        self.found: Any = None  # the existing file, once a lookup has found the content
        self.looked_up = False  # set by the body, which looks the hash up once
        self._stop = False
        self._done = threading.Event()
        threading.Thread(target=self._run, name="vlmfiles-hash-ahead", daemon=True).start()

    @staticmethod
    def wanted(source: Source, force: bool, method: str) -> bool:
        """Whether ``files.upload`` should hash ``source`` beside its upload (before asking
        the server whether it takes the hash late): a whole regular file, large enough to
        be worth it, whose hash this process does not know already, sent by multipart POST
        (a presigned PUT has no field to send the hash in)."""
        return (
            not force
            and method != "presigned-url"
            and hasattr(os, "preadv")  # not on Windows
            and source.size is not None
            and source.size >= HASH_AHEAD_MIN
            and _file_stat(source) is not None
            and known_hashes.get(source) is None
        )

    def _run(self) -> None:
        try:
            self.sha256 = self._hash()
            if self.sha256 is not None and self._before is not None:
                after = os.fstat(self._fd)
                known_hashes.put(self._before, after, self._began, self.sha256)
        except BaseException as exc:
            self.error = exc
        finally:
            os.close(self._fd)
            self._done.set()

    def _hash(self) -> str | None:
        h = hashlib.sha256()
        view = memoryview(bytearray(CHUNK))  # one buffer, reused: no allocation per chunk
        offset, end = self._start, self._start + self._size
        while offset < end:
            if self._stop:
                return None
            n = os.preadv(self._fd, [view[: min(CHUNK, end - offset)]], offset)
            if n == 0:
                raise ValueError(
                    f"The file shrank while it was being uploaded (expected {self._size} "
                    "bytes); nothing was stored. Upload it again once it is complete."
                )
            h.update(view[:n])
            offset += n
        return h.hexdigest()

    @property
    def ready(self) -> bool:
        """The hash is done (``sha256`` set, or ``error``)."""
        return self._done.is_set()

    def result(self) -> str:
        """Wait for the sha256 (blocking)."""
        self._done.wait()
        if self.error is not None:
            raise self.error
        if self.sha256 is None:
            raise RuntimeError("the upload was stopped before its hash was done")
        return self.sha256

    def stop(self) -> None:
        """The upload is over: stop reading (if still at it)."""
        self._stop = True


class MultipartBody:
    """A ``multipart/form-data`` body with one ``file`` part, streamed from ``source``.

    Written here rather than with httpx's ``files=``, which has no progress reporting and
    cannot rewind a body for a retry; the format is a few fixed lines (RFC 7578).

    The file's sha256 travels as a ``sha256`` field: before the file part when it is known
    up front (``sha256``), after it when it is being computed beside the upload (``ahead``).
    Either way the body has the same length.

    Beside the upload, ``lookup(sha256)`` (the client's hash lookup: the existing file, or
    None) is called between two chunks once the hash is done, in whichever thread reads the
    body; sync and async clients share this one path."""

    def __init__(
        self,
        source: Source,
        on_progress: ProgressCallback | None = None,
        sha256: str | None = None,
        ahead: HashAhead | None = None,
        lookup: Callable[[str], Any] | None = None,
    ) -> None:
        self.source = source
        self.on_progress = on_progress
        self.sha256 = sha256
        self.ahead = ahead
        self.lookup = lookup
        self.boundary = uuid.uuid4().hex
        self.head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{_quote(source.filename)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    def _field(self, sha256: str) -> bytes:
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="sha256"\r\n\r\n'
            f"{sha256}\r\n"
        ).encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": self.content_type}
        if self.source.size is not None:
            size = len(self.head) + self.source.size + len(self.tail)
            if self.sha256 is not None or self.ahead is not None:
                size += len(self._field("0" * 64))
            headers["Content-Length"] = str(size)
        return headers

    def __call__(self) -> Iterator[bytes]:
        """A fresh body (one per attempt)."""
        return self._iter()

    def _look_up(self, ahead: HashAhead) -> None:
        """Between two chunks: once the hash is done, look it up (once); if the server has
        the content already, stop sending (``Superseded``)."""
        if not ahead.looked_up and ahead.ready and ahead.sha256 and self.lookup is not None:
            ahead.looked_up = True
            try:
                ahead.found = self.lookup(ahead.sha256)
            except Exception:  # the upload goes on; the server still spots the duplicate
                log.debug("hash lookup beside an upload failed", exc_info=True)
        if ahead.found is not None:
            raise Superseded

    def _iter(self) -> Iterator[bytes]:
        ahead = self.ahead
        first = self.sha256
        if first is None and ahead is not None and ahead.ready and ahead.error is None:
            first = ahead.sha256  # a retry: known by now, so it goes first
        yield (self._field(first) + self.head) if first else self.head
        sent = 0
        total = self.source.size or 0
        for chunk in self.source.chunks():
            if ahead is not None:
                self._look_up(ahead)
            yield chunk
            sent += len(chunk)
            if self.on_progress is not None:
                self.on_progress(sent, max(total, sent))
        if first or ahead is None:
            yield self.tail
        else:
            # Every byte is sent; should the lookup find the content now, the server still
            # answers with the existing record.
            yield b"\r\n" + self._field(ahead.result()) + self.tail[2:]
