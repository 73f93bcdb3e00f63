"""Serving a file's bytes: one byte range at most, ETag, and safe headers.

Written here rather than with Starlette's ``FileResponse`` because blobs may live in an
object store, not a local path. Only single ranges are served (like S3); a multi-range or
malformed ``Range`` header is ignored and the whole file sent, as RFC 9110 allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import quote

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .errors import RangeNotSatisfiable
from .metadata.store import FileRecord
from .service import FileService
from .sniff import ACTIVE_TYPES

_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` for a single satisfiable range; None to send the whole file."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
        if last and int(last) < start:
            return None
    else:
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(f"Range {header!r} asks for no bytes; the file has {size}.")
        start, end = max(size - suffix, 0), size
    if start >= size:
        raise RangeNotSatisfiable(
            f"Range {header!r} starts past the end of the file ({size} bytes)."
        )
    return start, end


def content_disposition(rec: FileRecord) -> str:
    kind = "attachment" if rec.content_type in ACTIVE_TYPES else "inline"
    ascii_name = (
        rec.filename.encode("ascii", "replace")
        .decode()
        .replace("?", "_")
        .replace('"', "_")
        .replace("\\", "_")
    )
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(rec.filename, safe='')}"


async def _primed(body: Iterator[bytes]) -> Iterator[bytes]:
    """Read the first chunk before the answer starts, so that a store that is down (or a
    missing blob) becomes an error answer rather than a response broken off after its
    headers."""
    first = await anyio.to_thread.run_sync(next, body, None)

    def chain() -> Iterator[bytes]:
        if first is not None:
            yield first
            yield from body

    return chain()


def not_modified(request: Request, etag: str, modified_s: int) -> bool:
    """RFC 9110 13.2.2: ``If-None-Match`` (weak comparison, ``*``) decides when present,
    else ``If-Modified-Since``; both before any ``Range``, as S3 and CDNs do."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False  # an invalid date is ignored (RFC 9110 13.1.3)
    if since.tzinfo is None:
        return False
    return modified_s <= since.timestamp()


async def file_response(request: Request, service: FileService, rec: FileRecord) -> Response:
    etag = f'"{rec.sha256}"'
    modified_s = rec.created_us // 1_000_000  # a file's bytes never change after upload
    headers = {
        "ETag": etag,
        "Last-Modified": formatdate(modified_s, usegmt=True),
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(rec),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if not_modified(request, etag, modified_s):
        return Response(status_code=304, headers=headers)
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        range_header = None
    try:
        byte_range = parse_range(range_header, rec.bytes)
    except RangeNotSatisfiable as exc:
        exc.headers = {"Content-Range": f"bytes */{rec.bytes}"}
        raise
    start, end = byte_range or (0, rec.bytes)
    headers["Content-Length"] = str(end - start)
    status = 200 if byte_range is None else 206
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{rec.bytes}"
    if request.method == "HEAD":  # the same headers, and no byte read
        return Response(status_code=status, media_type=rec.content_type, headers=headers)
    if byte_range is None:
        body = await service.content(rec, 0, None, verify=True)
    else:
        body = await service.content(rec, start, end, verify=False)
    if isinstance(body, bytes):  # a small file, from the database
        return Response(body, status_code=status, media_type=rec.content_type, headers=headers)
    stream = await _primed(body)
    return StreamingResponse(
        stream, status_code=status, media_type=rec.content_type, headers=headers
    )
