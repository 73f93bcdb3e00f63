"""``AsyncFiles``: ``client.files`` on the ``AsyncClient``, call for call as ``Files``
(files.py). Blocking work (file reads, hashing, writes) runs in worker threads."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

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
from ._file_lists import AsyncFileList
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

if TYPE_CHECKING:
    from .._client import AsyncClient

__all__ = ["AsyncFiles"]


class AsyncFiles:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._sha256_late: bool | None = None  # see _sha256_may_follow

    async def _json(self, opts: RequestOptions) -> Any:
        return (await self._client.request(opts)).json()

    async def upload(
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
        """As ``Files.upload``; file reads and hashing run in a worker thread."""
        source = await anyio.to_thread.run_sync(open_source, file, filename)
        ahead = None
        try:
            sha = None
            late = HashAhead.wanted(source, force, method) and await self._sha256_may_follow()
            hashing = _hashing(source, force, late)
            if hashing == "beside":
                ahead = HashAhead(source)
            elif hashing == "first":
                sha = await anyio.to_thread.run_sync(sha256_of, source)
                cached = await self._cached(sha, purpose)
                if cached is not None:
                    return cached
            if method == "presigned-url":
                return await self._upload_presigned(source, purpose, timeout, on_progress)

            def lookup(digest: str) -> FileResponse | None:
                # Called from the worker thread reading the body (_athread_chunks).
                return anyio.from_thread.run(self._cached, digest, purpose)

            body = MultipartBody(source, on_progress, sha, ahead, lookup)
            try:
                data = await self._json(
                    _upload_request(
                        purpose,
                        lambda: _athread_chunks(body(), None, None),
                        body.headers,
                        timeout,
                        source.seekable,
                    )
                )
            except Superseded:
                assert ahead is not None
                return ahead.found  # type: ignore[no-any-return]
            return FileResponse.model_validate(data)
        finally:
            if ahead is not None:
                ahead.stop()
            source.close()

    async def _upload_presigned(
        self, source: Any, purpose: str, timeout: TimeoutTypes, on_progress: ProgressCallback | None
    ) -> FileResponse:
        p = PresignedUrlResponse.model_validate(
            await self._json(_presigned_url_request(source.filename, purpose))
        )

        def body() -> AsyncIterator[bytes]:
            return _athread_chunks(source.chunks(), on_progress, source.size)

        await self._client.request(
            _presigned_put_request(p, source.size, source.seekable, body, timeout)
        )
        return FileResponse.model_validate(await self._json(_verify_request(p)))

    async def _sha256_may_follow(self) -> bool:
        """As ``Files._sha256_may_follow``."""
        if self._sha256_late is None:
            try:
                response = await self._client.request(_health_request())
                self._sha256_late = _takes_sha256_late(response.headers)
            except ApiError:
                self._sha256_late = False
        return self._sha256_late

    async def _cached(self, sha256: str, purpose: str | None) -> FileResponse | None:
        try:
            data = await self._json(_hash_lookup_request(sha256, purpose))
        except NotFoundError:
            return None
        return FileResponse.model_validate(data)

    async def get_cached_file(self, file: FileSource) -> FileResponse | None:
        source = await anyio.to_thread.run_sync(open_source, file, None)
        try:
            return await self._cached(await anyio.to_thread.run_sync(sha256_of, source), None)
        finally:
            source.close()

    async def get(self, file_id: str, *, timeout: TimeoutTypes = None) -> FileResponse:
        _require_id(file_id)
        return FileResponse.model_validate(
            await self._json(RequestOptions("GET", f"files/{file_id}", timeout=timeout))
        )

    def list(
        self, skip: int = 0, limit: int | None = None, purpose: FilePurpose | str | None = None
    ) -> AsyncFileList:
        if limit is not None and limit < 1:
            raise ValueError("limit must be 1 or more (or None for every file)")

        async def fetch(params: dict[str, Any]) -> list[FileResponse]:
            data = await self._json(RequestOptions("GET", "files", params=params))
            return [FileResponse.model_validate(f) for f in data]

        return AsyncFileList(fetch, purpose, skip, limit)

    async def delete(self, file_id: str, *, timeout: TimeoutTypes = None) -> FileResponse:
        _require_id(file_id)
        return FileResponse.model_validate(
            await self._json(RequestOptions("DELETE", f"files/{file_id}", timeout=timeout))
        )

    def content(
        self, file_id: str, *, start: int = 0, chunk_size: int = CHUNK
    ) -> AsyncIterator[bytes]:
        """``async for chunk in client.files.content(id)``: as ``Files.content``."""
        _require_id(file_id)
        return self._content(file_id, start, chunk_size)

    async def _content(self, file_id: str, start: int, chunk_size: int) -> AsyncIterator[bytes]:
        headers = {"Range": f"bytes={start}-"} if start else {}
        response = await self._client.request(
            RequestOptions("GET", f"files/{file_id}/content", headers=headers, stream=True)
        )
        try:
            async for chunk in response.aiter_bytes(chunk_size):
                yield chunk
        finally:
            await response.aclose()

    async def download(
        self,
        file_id: str,
        path: str | os.PathLike[str] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> Path:
        meta = await self.get(file_id)
        target = Path(path) if path is not None else Path(meta.filename or file_id)
        if target.is_dir():
            target = target / (meta.filename or file_id)
        part = target.with_name(target.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        if have > meta.bytes:
            part.unlink()
            have = 0
        if have < meta.bytes:
            with open(part, "ab") as out:
                async for chunk in self.content(file_id, start=have):
                    await anyio.to_thread.run_sync(out.write, chunk)
                    have += len(chunk)
                    if on_progress is not None:
                        on_progress(have, meta.bytes)
        else:
            part.touch()
        await anyio.to_thread.run_sync(_verify_and_rename, part, target, meta)
        return target


async def _athread_chunks(
    chunks: Iterator[bytes], on_progress: ProgressCallback | None, total: int | None
) -> AsyncIterator[bytes]:
    """A sync chunk iterator read in a worker thread, as an async body."""
    sent = 0
    while True:
        chunk = await anyio.to_thread.run_sync(next, chunks, None)
        if chunk is None:
            return
        sent += len(chunk)
        if on_progress is not None:
            on_progress(sent, max(total or 0, sent))
        yield chunk
