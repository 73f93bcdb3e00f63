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
from .._uploads import CHUNK
from ..exceptions import VlmFilesError
from ..types import FileResponse, PresignedUrlResponse

UploadMethod = Literal["auto", "direct", "presigned-url"]


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
