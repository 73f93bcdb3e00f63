"""What ``files.upload`` needs before it sends anything: the source, its hash, the body.

A source is a path or a binary file object. Nothing here reads a whole file into memory:
the hash is computed in 1 MiB chunks, and the multipart body is a generator that rewinds
the file first, so a retried upload sends the same bytes again.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union

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


def sha256_of(source: Source) -> str:
    h = hashlib.sha256()
    for chunk in source.chunks():
        h.update(chunk)
    source.rewind()
    return h.hexdigest()


def _quote(name: str) -> str:
    # What browsers do for form-data names (WHATWG): escape quote, CR and LF.
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartBody:
    """A ``multipart/form-data`` body with one ``file`` part, streamed from ``source``.

    Written here rather than with httpx's ``files=``, which has no progress reporting and
    cannot rewind a body for a retry; the format is a few fixed lines (RFC 7578)."""

    def __init__(
        self,
        source: Source,
        on_progress: ProgressCallback | None = None,
        sha256: str | None = None,
    ) -> None:
        self.source = source
        self.on_progress = on_progress
        self.boundary = uuid.uuid4().hex
        # The sha256 (when we hashed the file already) goes first, as a field: the server
        # checks the bytes against it, and an S3-backed server writes them to their final
        # place at once.
        field = (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="sha256"\r\n\r\n'
            f"{sha256}\r\n"
            if sha256
            else ""
        )
        self.head = (
            f"{field}--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{_quote(source.filename)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": self.content_type}
        if self.source.size is not None:
            size = len(self.head) + self.source.size + len(self.tail)
            headers["Content-Length"] = str(size)
        return headers

    def __call__(self) -> Iterator[bytes]:
        """A fresh body (one per attempt)."""
        return self._iter()

    def _iter(self) -> Iterator[bytes]:
        yield self.head
        sent = 0
        total = self.source.size or 0
        for chunk in self.source.chunks():
            yield chunk
            sent += len(chunk)
            if self.on_progress is not None:
                self.on_progress(sent, max(total, sent))
        yield self.tail
