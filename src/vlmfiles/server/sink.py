"""The sink an upload's bytes are poured into: hashed, size-checked, sniffed and staged.

Nothing here holds a whole file (beyond a body small enough to keep in the database): bytes
are gathered into ~1 MiB batches and handed to a worker thread that updates the sha256 and
writes them to the blob store's staging area (hashlib and file writes release the GIL),
while the event loop keeps reading. The md5 (asked for only by the official SDK's hash
lookups) of a body larger than one batch is not computed here: it is slower than the
sha256, so it is computed after the upload is answered (``md5.Md5Filler``).

Where the bytes come from (a multipart body, a raw PUT) is ingest.py's business.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from .._units import human_bytes
from .errors import PayloadTooLarge
from .jsoncheck import JsonValidator
from .sniff import SNIFF_BYTES
from .storage import BlobWriter

BATCH = 1024 * 1024


@dataclass
class Staged:
    """A body fully received: what the service needs to commit it. Its bytes are staged in
    the blob store (``writer``) or, small enough to keep in the database, held in ``data``."""

    writer: BlobWriter | None
    data: bytes | None
    size: int
    sha256: str
    md5: str | None  # None: a large body, whose md5 is computed after the answer
    head: bytes
    filename: str | None
    fields: dict[str, str]
    validator: JsonValidator | None  # fed every byte: the fine-tune verdict, if asked for

    async def json_type(self, purpose: str) -> str | None:
        """For purpose fine-tune, the validated JSON type (or 415); else None. The verdict
        is asked for only now, when the purpose is known whatever the order of the fields."""
        if purpose != "fine-tune":
            return None
        assert self.validator is not None, "fine-tune bodies are always validated"
        return await anyio.to_thread.run_sync(self.validator.finish, abandon_on_cancel=False)

    async def discard(self) -> None:
        """Drop the staged bytes (nothing to do for bytes held in memory)."""
        if self.writer is not None:
            await anyio.to_thread.run_sync(self.writer.abort)


class _Worker(threading.Thread):
    """A thread that applies ``fn`` to each batch it is given, in order.

    The event loop hands batches over and goes back to reading the socket at once; a
    bounded queue (``DEPTH`` batches) keeps memory flat when the disk is the slower side."""

    DEPTH = 2

    def __init__(self, fn: Callable[[list[bytes]], object], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.fn = fn
        self.queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=self.DEPTH)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (buf := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.fn(buf)
                except BaseException as exc:  # reported to the event loop by the sink
                    self.error = exc

    async def put(self, buf: list[bytes] | None) -> None:
        try:
            self.queue.put_nowait(buf)
        except queue.Full:
            await anyio.to_thread.run_sync(self.queue.put, buf, abandon_on_cancel=False)


class HashingSink:
    """Receives the file's bytes; hashing and writing run in a worker thread.

    A body that fits in one batch (most files) is hashed (md5 and sha256), written and made
    durable in a single thread hop at the end; one of at most ``inline_max`` bytes is only
    hashed, and kept (``Staged.data``) for the service to store in the database. A larger
    one starts a thread for the sha256, the write (and the fine-tune validator) while the
    event loop keeps reading; its md5 is left for later.

    Given ``new_writer`` instead of a ``writer``, the sink makes the writer in its first
    thread hop (opening a staging file is file-system work that must stay off the event
    loop): a small upload then costs one hop for all of it, not three (a hop costs CPU, and
    a server of small uploads is CPU-bound)."""

    def __init__(
        self,
        writer: BlobWriter | None,
        limit: int,
        validator: JsonValidator | None,
        defer_md5: bool = True,
        *,
        new_writer: Callable[[], BlobWriter] | None = None,
        inline_max: int = 0,
    ) -> None:
        assert (writer is None) != (new_writer is None), "a writer, or how to make one"
        assert inline_max <= BATCH, "only a one-batch body is held in memory"
        self.writer = writer
        self.inline_max = inline_max if writer is None else 0
        self.data: bytes | None = None
        self._new_writer = new_writer
        self._expected: str | None = None
        # False where the bytes are read back from the store anyway (a presigned S3 upload
        # being verified): the md5 then costs nothing extra, and a later pass would re-read.
        self.defer_md5 = defer_md5
        self.limit = limit
        self.validator = validator
        self.size = 0
        self.head = bytearray()
        self._sha256 = hashlib.sha256()
        self._md5: hashlib._Hash | None = hashlib.md5()
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._worker: _Worker | None = None
        self._closed = False

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise PayloadTooLarge(
                f"File too large: it is over this server's limit of {human_bytes(self.limit)} "
                "per file; nothing was stored."
            )
        if len(self.head) < SNIFF_BYTES:
            self.head += data[: SNIFF_BYTES - len(self.head)]
        self._pending.append(data)
        self._pending_len += len(data)

    @property
    def ready(self) -> bool:
        return self._pending_len >= BATCH

    def expect(self, sha256: str) -> None:
        """The client declared the bytes' sha256 before sending them: a writer that can use
        it (the S3 one stages straight under the final key) is told before any byte."""
        self._expected = sha256
        if self.writer is not None:
            self._tell_expected(self.writer)

    def _tell_expected(self, writer: BlobWriter) -> None:
        if self._expected is not None:
            writer.expect(self._expected)

    def _ensure_writer(self) -> BlobWriter:
        """The writer, made now if it was not given (in a worker thread)."""
        if self.writer is None:
            assert self._new_writer is not None
            writer = self._new_writer()
            self._tell_expected(writer)
            self.writer = writer
        return self.writer

    def _write_and_sha(self, batch: list[bytes]) -> None:
        writer = self._ensure_writer()
        for buf in batch:
            self._sha256.update(buf)
            writer.write(buf)
            if self.validator is not None:
                self.validator.feed(buf)

    def _everything(self, batch: list[bytes]) -> None:
        assert self._md5 is not None
        for buf in batch:
            self._md5.update(buf)
        self._write_and_sha(batch)

    def _hashes(self, batch: list[bytes]) -> None:
        """A body kept in memory: its hashes (and validation), no writer."""
        assert self._md5 is not None
        for buf in batch:
            self._md5.update(buf)
            self._sha256.update(buf)
            if self.validator is not None:
                self.validator.feed(buf)

    def _everything_durable(self, batch: list[bytes]) -> None:
        """A one-batch body: hashes, write and fsync (the writer's ``prepare``) in one hop."""
        self._everything(batch)
        assert self.writer is not None
        self.writer.prepare()

    def _take(self) -> list[bytes]:
        # The chunks are handed over as they came, not joined: a joined batch is a fresh
        # 1 MiB allocation that page-faults in every page (glibc's mmap threshold, see
        # malloc.py), the event loop's largest cost in a large upload.
        batch, self._pending = self._pending, []
        self._pending_len = 0
        return batch

    def _raise_worker_error(self) -> None:
        if self._worker is not None and self._worker.error is not None:
            raise self._worker.error

    async def flush(self) -> None:
        """Hand the pending batch to the worker (starting it on the first batch)."""
        if not self._pending:
            return
        if self._worker is None:
            work = self._write_and_sha
            if self.defer_md5:
                self._md5 = None  # more than one batch: the md5 comes after the answer
            else:
                work = self._everything
            self._worker = _Worker(work, "vlmfiles-hash-write")
            self._worker.start()
        self._raise_worker_error()
        await self._worker.put(self._take())

    async def close(self) -> None:
        """Process what is pending and wait for the worker. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        buf = self._take()
        if self._worker is None:  # the whole body is ``buf``
            if self.size <= self.inline_max:  # kept in memory (an empty body too)
                if self.validator is None:
                    # Hashed here, on the event loop: for a body this small a thread hop
                    # costs more CPU than the hashing.
                    self._hashes(buf)
                elif buf:  # a fine-tune body is parsed as well: in a thread
                    await anyio.to_thread.run_sync(self._hashes, buf, abandon_on_cancel=False)
                self.data = b"".join(buf)
            elif buf:
                await anyio.to_thread.run_sync(
                    self._everything_durable, buf, abandon_on_cancel=False
                )
            return
        if buf:
            await self._worker.put(buf)
        await self._worker.put(None)
        await anyio.to_thread.run_sync(self._worker.join, abandon_on_cancel=False)
        self._raise_worker_error()

    async def finish(self, filename: str | None, fields: dict[str, str]) -> Staged:
        await self.close()
        # ``close`` made a writer for the bytes, or kept them in ``data``.
        assert self.writer is not None or self.data is not None
        return Staged(
            writer=self.writer,
            data=self.data,
            size=self.size,
            sha256=self._sha256.hexdigest(),
            md5=self._md5.hexdigest() if self._md5 is not None else None,
            head=bytes(self.head),
            filename=filename,
            fields=fields,
            validator=self.validator,
        )

    async def abort(self) -> None:
        """Stop the worker, then discard the staged bytes."""
        with anyio.CancelScope(shield=True):
            self._pending.clear()
            self._pending_len = 0
            try:
                await self.close()
            except BaseException:  # noqa: S110 - the error that made us abort matters more
                pass
            if self.writer is not None:  # none was made if no byte was handed over
                await anyio.to_thread.run_sync(self.writer.abort)
