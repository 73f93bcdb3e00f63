"""Reading an upload body from the ASGI stream into a ``HashingSink`` (sink.py).

A multipart body is parsed with python-multipart's incremental ``MultipartParser`` rather
than Starlette's ``request.form()``, which spools every file to a temporary file first (a
second full copy on disk). The parser enforces header count and size limits; this module
adds the part count, field size and preamble limits. A raw body (a presigned PUT) goes to
the sink as it comes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator, Callable

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from .errors import BadRequest
from .jsoncheck import JsonValidator
from .sink import HashingSink, Staged
from .storage import BlobStore, is_hex_digest

MAX_PARTS = 8
MAX_FIELD_BYTES = 1024
MAX_PREAMBLE = 64 * 1024  # bytes the parser may see before the file part begins
MAX_EPILOGUE = 64 * 1024  # bytes ignored after the closing boundary


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
