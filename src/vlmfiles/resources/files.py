"""``client.files``: upload, list, get, download and delete files.

``Files`` (sync, here) and ``AsyncFiles`` (async_files.py) mirror each other call for call;
the requests they make and the checks they share are built in _files_common.py, the list
results they return (``FileList``, ``AsyncFileList``) in _file_lists.py. Import the public
names, ``AsyncFiles`` included, from this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._base_client import RequestOptions, TimeoutTypes
from .._uploads import (
    CHUNK,
    FileSource,
    HashAhead,
    MultipartBody,
    ProgressCallback,
    Superseded,
    open_source,
    sha256_of,
)
from ..exceptions import ApiError, NotFoundError
from ..types import FilePurpose, FileResponse, PresignedUrlResponse
from ._file_lists import AsyncFileList, FileList
from ._files_common import (
    UploadMethod,
    _hash_lookup_request,
    _hashing,
    _health_request,
    _presigned_put_request,
    _presigned_url_request,
    _require_id,
    _takes_sha256_late,
    _upload_request,
    _verify_and_rename,
    _verify_request,
)
from .async_files import AsyncFiles

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["AsyncFileList", "AsyncFiles", "FileList", "Files"]


class Files:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._sha256_late: bool | None = None  # see _sha256_may_follow

    def _json(self, opts: RequestOptions) -> Any:
        return self._client.request(opts).json()

    # Upload -----------------------------------------------------------------------------

    def upload(
        self,
        file: FileSource,
        purpose: FilePurpose | str = "assistants",
        *,
        filename: str | None = None,
        timeout: TimeoutTypes = None,
        on_progress: ProgressCallback | None = None,
        force: bool = False,
        method: UploadMethod = "auto",
    ) -> FileResponse:
        """Upload a file (a path, or a binary file object) and return it.

        The content is hashed locally: if you already have it for this ``purpose``, that
        file is returned (``force=True`` sends anyway; the server still returns the existing
        record). Files of 32 MiB and more are hashed while they are already being sent (when
        the server takes the hash after the bytes at no cost): a new file costs no extra
        pass, and a known one stops sending as soon as its hash is found. Smaller ones are
        hashed first, and nothing is sent for a known one; nor for a file this process
        hashed before and that has not changed since (docs/sdk.md). The bytes stream in one pass,
        with ``on_progress(sent, total)`` as they go, retried with the stream rewound; the
        server checks them against the sha256."""
        source = open_source(file, filename)
        ahead = None
        try:
            sha = None
            late = HashAhead.wanted(source, force, method) and self._sha256_may_follow()
            hashing = _hashing(source, force, late)
            if hashing == "beside":
                ahead = HashAhead(source)
            elif hashing == "first":
                sha = sha256_of(source)  # remembered if this process hashed the file before
                cached = self._cached(sha, purpose)
                if cached is not None:
                    return cached
            if method == "presigned-url":
                return self._upload_presigned(source, purpose, timeout, on_progress)

            def lookup(digest: str) -> FileResponse | None:
                return self._cached(digest, purpose)

            body = MultipartBody(source, on_progress, sha, ahead, lookup)
            try:
                data = self._json(
                    _upload_request(purpose, body, body.headers, timeout, source.seekable)
                )
            except Superseded:
                assert ahead is not None
                return ahead.found  # type: ignore[no-any-return]
            return FileResponse.model_validate(data)
        finally:
            if ahead is not None:
                ahead.stop()
            source.close()

    def _sha256_may_follow(self) -> bool:
        """Whether this server takes a file's sha256 after its bytes at no cost (it says so
        on ``/health``), so that a large file can be hashed while it is being sent. Asked
        once per client; a server that does not say (or an error) means hash first."""
        if self._sha256_late is None:
            try:
                response = self._client.request(_health_request())
                self._sha256_late = _takes_sha256_late(response.headers)
            except ApiError:
                self._sha256_late = False
        return self._sha256_late

    def _upload_presigned(
        self, source: Any, purpose: str, timeout: TimeoutTypes, on_progress: ProgressCallback | None
    ) -> FileResponse:
        p = PresignedUrlResponse.model_validate(
            self._json(_presigned_url_request(source.filename, purpose))
        )

        def body() -> Iterator[bytes]:
            sent = 0
            for chunk in source.chunks():
                yield chunk
                sent += len(chunk)
                if on_progress is not None:
                    on_progress(sent, max(source.size or 0, sent))

        self._client.request(_presigned_put_request(p, source.size, source.seekable, body, timeout))
        return FileResponse.model_validate(self._json(_verify_request(p)))

    def _cached(self, sha256: str, purpose: str | None) -> FileResponse | None:
        try:
            data = self._json(_hash_lookup_request(sha256, purpose))
        except NotFoundError:
            return None
        return FileResponse.model_validate(data)

    def get_cached_file(self, file: FileSource) -> FileResponse | None:
        """The file you already have with the same content (any purpose), or None."""
        source = open_source(file, None)
        try:
            return self._cached(sha256_of(source), None)
        finally:
            source.close()

    # Read and delete --------------------------------------------------------------------

    def get(self, file_id: str, *, timeout: TimeoutTypes = None) -> FileResponse:
        _require_id(file_id)
        return FileResponse.model_validate(
            self._json(RequestOptions("GET", f"files/{file_id}", timeout=timeout))
        )

    def list(
        self, skip: int = 0, limit: int | None = None, purpose: FilePurpose | str | None = None
    ) -> FileList:
        """Files, newest first. ``list(limit=10)``: at most ten. ``list()``: every file,
        fetched a page at a time as you iterate."""
        if limit is not None and limit < 1:
            raise ValueError("limit must be 1 or more (or None for every file)")

        def fetch(params: dict[str, Any]) -> list[FileResponse]:
            data = self._json(RequestOptions("GET", "files", params=params))
            return [FileResponse.model_validate(f) for f in data]

        return FileList(fetch, purpose, skip, limit)

    def delete(self, file_id: str, *, timeout: TimeoutTypes = None) -> FileResponse:
        """Delete a file; returns what was deleted."""
        _require_id(file_id)
        return FileResponse.model_validate(
            self._json(RequestOptions("DELETE", f"files/{file_id}", timeout=timeout))
        )

    def content(self, file_id: str, *, start: int = 0, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The file's bytes, streamed (from byte ``start``). The request is sent when you
        start iterating; an empty id raises at once."""
        _require_id(file_id)
        return self._content(file_id, start, chunk_size)

    def _content(self, file_id: str, start: int, chunk_size: int) -> Iterator[bytes]:
        headers = {"Range": f"bytes={start}-"} if start else {}
        response = self._client.request(
            RequestOptions("GET", f"files/{file_id}/content", headers=headers, stream=True)
        )
        try:
            yield from response.iter_bytes(chunk_size)
        finally:
            response.close()

    def download(
        self,
        file_id: str,
        path: str | os.PathLike[str] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> Path:
        """Stream the file to ``path`` (default: its filename in the current directory).

        Bytes go to ``PATH.part`` first; an interrupted download resumes from there with a
        ``Range`` request. The sha256 is checked before the file takes its name."""
        meta = self.get(file_id)
        target = Path(path) if path is not None else Path(meta.filename or file_id)
        if target.is_dir():
            target = target / (meta.filename or file_id)
        part = target.with_name(target.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        if have > meta.bytes:
            part.unlink()
            have = 0
        with open(part, "ab") as out:
            if have < meta.bytes:
                for chunk in self.content(file_id, start=have):
                    out.write(chunk)
                    have += len(chunk)
                    if on_progress is not None:
                        on_progress(have, meta.bytes)
        _verify_and_rename(part, target, meta)
        return target
