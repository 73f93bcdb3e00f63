"""Helpers shared by ``Files`` (files.py) and ``AsyncFiles`` (async_files.py): argument
checks, list query parameters and the check that a finished download matches its sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

from .._uploads import CHUNK
from ..exceptions import VlmFilesError
from ..types import FileResponse

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
