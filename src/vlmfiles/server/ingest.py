"""Streaming an upload body into the blob store: hashed, size-checked and sniffed on the way.

Nothing here holds a whole file: the body is read from the ASGI stream chunk by chunk,
gathered into ~1 MiB batches and handed to a worker thread that updates the sha256 and writes
the bytes to the store's staging area (hashlib and file writes release the GIL), while the
event loop keeps reading. The md5 (asked for only by the official SDK's hash lookups) of a
body larger than one batch is not computed here: it was the slowest stage of a large upload
(~600 MB/s on one core, against ~1,450 for sha256), so it is computed after the upload is
answered (``service.Md5Filler``).

Multipart bodies are parsed with python-multipart's incremental ``MultipartParser`` rather
than Starlette's ``request.form()``, which spools every file to a temporary file first (a
second full copy on disk). The parser enforces header count and size limits; this module
adds the part count, field size and preamble limits.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from .._units import human_bytes
from .errors import BadRequest, PayloadTooLarge
from .jsoncheck import JsonValidator
from .sniff import SNIFF_BYTES
from .storage import BlobStore, BlobWriter, is_hex_digest

BATCH = 1024 * 1024
MAX_PARTS = 8
MAX_FIELD_BYTES = 1024
MAX_PREAMBLE = 64 * 1024  # bytes the parser may see before the file part begins
MAX_EPILOGUE = 64 * 1024  # bytes ignored after the closing boundary


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
    loop): a small upload then costs one hop for all of it, not three (~95 us of CPU each,
    measured, on a server that small uploads keep CPU-bound)."""

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
        # 1 MiB allocation each time, which (with glibc's mmap threshold at 1 MiB, see
        # malloc.py) page-faults in every page; profiled, that join was the event loop's
        # largest cost in a large upload.
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
                    # Hashed here, on the event loop: md5 and sha256 of 4 KiB take ~10 us,
                    # of 64 KiB (the default inline_max) ~150 us; a thread hop ~95 us of CPU.
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


async def ingest_raw(
    stream: AsyncIterator[bytes],
    store: BlobStore,
    limit: int,
    validator: JsonValidator | None,
    inline_max: int = 0,
) -> Staged:
    """A raw request body (presigned PUT) into staging (or memory, up to ``inline_max``)."""
    sink = HashingSink(None, limit, validator, new_writer=store.writer, inline_max=inline_max)
    try:
        async for chunk in stream:
            sink.add(chunk)
            if sink.ready:
                await sink.flush()
        return await sink.finish(None, {})
    except BaseException:
        await sink.abort()
        raise


def clean_filename(raw: bytes | str | None) -> str | None:
    """A display name safe to store and to echo in headers: the last path component, no
    control or bidi-override characters, at most 255 UTF-8 bytes, never ``.`` or ``..``."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        # Header bytes reach us as latin-1; clients send UTF-8 names.
        raw = raw.decode("utf-8", errors="replace")
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
    ).strip()
    if name in ("", ".", ".."):
        return None
    encoded = name.encode("utf-8")
    if len(encoded) > 255:
        stem, dot, ext = name.rpartition(".")
        keep_ext = dot and 0 < len(ext.encode()) <= 16
        budget = 255 - (len(ext.encode()) + 1 if keep_ext else 0)
        base = (stem if keep_ext else name).encode("utf-8")[:budget].decode("utf-8", "ignore")
        name = f"{base}.{ext}" if keep_ext else base
    return name


def declared_sha256(fields: dict[str, str]) -> str | None:
    """The ``sha256`` form field a client may send before the file part (our SDK does): the
    server checks the bytes against it (400 on a mismatch) and the S3 store can then write
    them under their final key at once instead of copying them there at commit."""
    value = fields.get("sha256")
    if value is None:
        return None
    value = value.strip().lower()
    if not is_hex_digest(value, 64):
        raise BadRequest(
            f"Form field 'sha256' must be the 64 hex digits of the file's sha256, got {value[:80]!r}."
        )
    return value


class _MultipartState:
    def __init__(
        self, sink: HashingSink, validator_for: Callable[[dict[str, str]], JsonValidator | None]
    ) -> None:
        self.sink = sink
        self.validator_for = validator_for
        self.parts = 0
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.current: str | None = None  # "file", a field name, or None (ignored part)
        self.field_value = bytearray()
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_seen = False
        self.file_done = False
        self.ended = False
        self.error: Exception | None = None

    # python-multipart callbacks (synchronous, called from parser.write)
    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise BadRequest(f"Too many parts in the multipart body: at most {MAX_PARTS}.")
        self.headers = {}
        self.current = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self.headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise BadRequest(
                "Each multipart part needs 'Content-Disposition: form-data; name=...'. "
                "Send the file in a part named 'file'."
            )
        name = options[b"name"].decode("latin-1")
        if name == "file":
            if self.file_seen:
                raise BadRequest("Send exactly one part named 'file'; this body has several.")
            self.file_seen = True
            self.current = "file"
            self.filename = clean_filename(options.get(b"filename"))
            self.sink.validator = self.validator_for(self.fields)
            declared = declared_sha256(self.fields)
            if declared is not None:
                self.sink.expect(declared)  # the S3 writer stages straight under the final key
        else:
            self.current = name
            self.field_value.clear()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current == "file":
            self.sink.add(data[start:end])
        elif self.current is not None:
            self.field_value += data[start:end]
            if len(self.field_value) > MAX_FIELD_BYTES:
                raise BadRequest(
                    f"Form field {self.current!r} is longer than {MAX_FIELD_BYTES} bytes; "
                    "only the 'file' part may be large."
                )

    def on_part_end(self) -> None:
        if self.current == "file":
            self.file_done = True
        elif self.current is not None:
            if self.current in self.fields:  # which one would count? (``purpose`` judges bytes)
                raise BadRequest(f"Form field {self.current!r} is sent twice; send it once.")
            self.fields[self.current] = self.field_value.decode("utf-8", errors="replace")
        self.current = None

    def on_end(self) -> None:
        self.ended = True


def multipart_boundary(content_type: str | None) -> bytes:
    ctype, options = parse_options_header(content_type)
    if ctype != b"multipart/form-data":
        raise BadRequest(
            f"Expected a multipart/form-data body with a part named 'file', got Content-Type "
            f"{(content_type or 'none')!r}."
        )
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise BadRequest("The multipart Content-Type needs a boundary of 1 to 200 characters.")
    return boundary


async def _skip_epilogue(stream: AsyncIterator[bytes]) -> None:
    """Read what follows the closing boundary (RFC 2046 lets it be ignored) up to
    ``MAX_EPILOGUE`` bytes: answering with it unread in the socket would reset the
    connection, and the client would never see the answer."""
    left = MAX_EPILOGUE  # beyond what came in the chunk with the boundary (the parser skips it)
    async for chunk in stream:
        left -= len(chunk)
        if left < 0:
            raise BadRequest(
                f"More than {MAX_EPILOGUE} bytes follow the multipart body's closing "
                "boundary; send nothing after it."
            )


async def ingest_multipart(
    stream: AsyncIterator[bytes],
    content_type: str | None,
    store: BlobStore,
    limit: int,
    validator_for: Callable[[dict[str, str]], JsonValidator | None],
    inline_max: int = 0,
) -> Staged:
    """A multipart/form-data body with one ``file`` part into staging (or memory, up to
    ``inline_max`` bytes).

    ``validator_for(fields)`` picks the content validator once the file part starts, from
    the form fields sent before it (a ``purpose`` field may come before the file, or after
    it: then the validator runs in case, and is asked for its verdict only if needed)."""
    boundary = multipart_boundary(content_type)
    sink = HashingSink(None, limit, None, new_writer=store.writer, inline_max=inline_max)
    state = _MultipartState(sink, validator_for)
    callbacks = {
        name: getattr(state, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
            "on_end",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    seen = 0
    try:
        async for chunk in stream:
            seen += len(chunk)
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise BadRequest(f"Malformed multipart body: {exc}") from None
            if not state.file_seen and seen > MAX_PREAMBLE:
                raise BadRequest(
                    f"No part named 'file' within the first {MAX_PREAMBLE} bytes of the "
                    "body. Send the file in a part named 'file' (other fields first, small)."
                )
            if sink.ready:
                await sink.flush()
            if state.ended:
                break
        await _skip_epilogue(stream)
        if not state.file_seen:
            raise BadRequest("The multipart body has no part named 'file'.")
        if not state.ended or not state.file_done:
            raise BadRequest("The multipart body ended before its closing boundary.")
        return await sink.finish(state.filename, state.fields)
    except BaseException:
        await sink.abort()
        raise
