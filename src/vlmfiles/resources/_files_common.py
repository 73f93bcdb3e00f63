"""Helpers shared by ``Files`` (files.py) and ``AsyncFiles`` (async_files.py): argument
checks, the requests each call makes, list query parameters and the check that a finished
download matches its sha256. A decision made here cannot drift between the two sides."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from .._base_client import RequestOptions, TimeoutTypes
from .._protocol import SHA256_HEADER
from .._uploads import CHUNK, Source
from ..exceptions import VlmFilesError
from ..types import FileResponse, PresignedUrlResponse

UploadMethod = Literal["auto", "direct", "presigned-url"]
Hashing = Literal["beside", "first", "none"]


def _require_id(file_id: str) -> str:
    if not isinstance(file_id, str) or not file_id:
        raise ValueError("Expected a non-empty value for `file_id`")
    return file_id


def _list_params(purpose: str | None, skip: int, limit: int, after: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if skip:
        params["skip"] = skip
    if purpose is not None:
        params["purpose"] = purpose
    if after is not None:
        params["after"] = after
    return params


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _verify_and_rename(part: Path, target: Path, meta: FileResponse) -> None:
    if meta.sha256 and _sha256_file(part) != meta.sha256:
        part.unlink()
        raise VlmFilesError(
            f"Downloaded bytes of {meta.id} do not match its sha256; the partial file was "
            "removed. Download again."
        )
    os.replace(part, target)


# The direct upload: hash (before the bytes, beside them, or not), look up, send ----------


def _hashing(source: Source, force: bool, sha256_late: bool) -> Hashing:
    """How ``upload`` hashes: ``beside`` the upload when the server takes the sha256 after
    the bytes (``sha256_late``, asked only if ``HashAhead.wanted``); else ``first``, and
    nothing is sent for known content, unless ``force`` or a source that cannot be read
    twice (``none``: the server hashes, and still returns an existing record)."""
    if sha256_late:
        return "beside"
    return "first" if source.seekable and not force else "none"


def _health_request() -> RequestOptions:
    return RequestOptions("GET", "health", retryable=False)


def _takes_sha256_late(headers: Any) -> bool:
    """The server's answer on ``/health``: ``any`` if a sha256 may follow the bytes at no
    cost; no header (not a vlmfiles server, or an older one) means hash first."""
    return bool(headers.get(SHA256_HEADER) == "any")


def _hash_lookup_request(sha256: str, purpose: str | None) -> RequestOptions:
    """The tenant's file with this content (for ``purpose``, if given); 404 if none."""
    return RequestOptions(
        "GET", f"files/hash/{sha256}", params={"purpose": purpose} if purpose else None
    )


def _upload_request(
    purpose: str,
    content: Callable[[], Iterable[bytes] | AsyncIterable[bytes]],
    headers: dict[str, str],
    timeout: TimeoutTypes,
    seekable: bool,
) -> RequestOptions:
    """The multipart POST, retried only if the source can be read again."""
    return RequestOptions(
        "POST",
        "files",
        params={"purpose": purpose},
        content=content,
        headers=headers,
        timeout=timeout,
        retryable=seekable,
    )


# The presigned-URL upload: ask for a URL, PUT the bytes there, then verify -----------------


def _presigned_url_request(filename: str, purpose: str) -> RequestOptions:
    return RequestOptions(
        "POST", "files/presigned-url", json={"filename": filename, "purpose": purpose}
    )


def _presigned_put_request(
    p: PresignedUrlResponse,
    size: int | None,
    seekable: bool,
    content: Callable[[], Iterable[bytes] | AsyncIterable[bytes]],
    timeout: TimeoutTypes,
) -> RequestOptions:
    """The PUT of the bytes: to a URL that carries its own authorization (no API key sent),
    retried only if the source can be read again."""
    headers = {"Content-Type": p.content_type or "application/octet-stream"}
    if size is not None:
        headers["Content-Length"] = str(size)
    return RequestOptions(
        "PUT",
        p.url,
        content=content,
        headers=headers,
        timeout=timeout,
        authenticated=False,
        retryable=seekable,
    )


def _verify_request(p: PresignedUrlResponse) -> RequestOptions:
    return RequestOptions("GET", f"files/verify-upload/{p.id}")
