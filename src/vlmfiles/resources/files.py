"""``client.files``: upload, list, get, download and delete files.

``Files`` (sync, here) and ``AsyncFiles`` (async_files.py) mirror each other call for call.
The list results both return (``FileList``, ``AsyncFileList``) and their page size ``PAGE``
live here; small helpers both use live in _files_common.py. Import the public names,
``AsyncFiles`` included, from this module.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._base_client import RequestOptions, TimeoutTypes
from .._uploads import CHUNK, FileSource, MultipartBody, ProgressCallback, open_source, sha256_of
from ..exceptions import NotFoundError
from ..types import FilePurpose, FileResponse, PresignedUrlResponse
from ._files_common import UploadMethod, _list_params, _require_id, _verify_and_rename

if TYPE_CHECKING:
    from .._client import Client

PAGE = 1000  # the server's largest page

__all__ = ["AsyncFileList", "AsyncFiles", "FileList", "Files"]


class FileList:
    """The files of a ``list()`` call, fetched a page at a time as you iterate.

    ``for f in client.files.list()`` walks every file, newest first; ``limit=`` stops after
    that many. ``len()`` and indexing fetch what they need and keep it. Pages after the
    first continue from the last file seen (a cursor), so files uploaded meanwhile neither
    shift nor repeat what you get."""

    def __init__(
        self,
        fetch: Callable[[dict[str, Any]], list[FileResponse]],
        purpose: str | None,
        skip: int,
        limit: int | None,
    ) -> None:
        self._fetch = fetch
        self._purpose, self._skip, self._limit = purpose, skip, limit
        self._items: list[FileResponse] = []
        self._done = False

    def _next_page(self) -> None:
        want = PAGE if self._limit is None else min(PAGE, self._limit - len(self._items))
        if want <= 0:
            self._done = True
            return
        if self._items:
            params = _list_params(self._purpose, 0, want, self._items[-1].id)
        else:
            params = _list_params(self._purpose, self._skip, want, None)
        page = self._fetch(params)
        self._items.extend(page)
        if len(page) < want:
            self._done = True

    def __iter__(self) -> Iterator[FileResponse]:
        i = 0
        while True:
            while i < len(self._items):
                yield self._items[i]
                i += 1
            if self._done:
                return
            self._next_page()

    def _all(self) -> list[FileResponse]:
        while not self._done:
            self._next_page()
        return self._items

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, index: int) -> FileResponse:
        return self._all()[index]

    def __eq__(self, other: object) -> bool:
        # The official SDK returns a plain list: ``files.list() == []`` keeps working.
        if isinstance(other, (list, tuple, FileList)):
            return self._all() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return f"FileList(purpose={self._purpose!r}, limit={self._limit!r})"


class AsyncFileList:
    """``async for f in client.files.list()``, or ``await client.files.list(limit=10)``."""

    def __init__(
        self,
        fetch: Callable[[dict[str, Any]], Any],
        purpose: str | None,
        skip: int,
        limit: int | None,
    ) -> None:
        self._fetch = fetch
        self._purpose, self._skip, self._limit = purpose, skip, limit

    async def __aiter__(self) -> AsyncIterator[FileResponse]:
        after: str | None = None
        skip, seen = self._skip, 0
        while True:
            want = PAGE if self._limit is None else min(PAGE, self._limit - seen)
            if want <= 0:
                return
            page = await self._fetch(_list_params(self._purpose, skip, want, after))
            for item in page:
                yield item
            seen += len(page)
            if len(page) < want:
                return
            after, skip = page[-1].id, 0

    def __await__(self) -> Any:
        async def collect() -> list[FileResponse]:
            return [f async for f in self]

        return collect().__await__()


class Files:
    def __init__(self, client: Client) -> None:
        self._client = client

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

        The content is hashed locally first: if you already have it for this ``purpose``,
        that file is returned and nothing is sent (``force=True`` sends anyway; the server
        still returns the existing record). Otherwise the bytes stream in one pass, with
        ``on_progress(sent, total)`` as they go, retried with the stream rewound."""
        source = open_source(file, filename)
        try:
            if source.seekable and not force:
                cached = self._cached(sha256_of(source), purpose)
                if cached is not None:
                    return cached
            if method == "presigned-url":
                return self._upload_presigned(source, purpose, timeout, on_progress)
            body = MultipartBody(source, on_progress)
            data = self._json(
                RequestOptions(
                    "POST",
                    "files",
                    params={"purpose": purpose},
                    content=body,
                    headers=body.headers,
                    timeout=timeout,
                    retryable=source.seekable,
                )
            )
            return FileResponse.model_validate(data)
        finally:
            source.close()

    def _upload_presigned(
        self, source: Any, purpose: str, timeout: TimeoutTypes, on_progress: ProgressCallback | None
    ) -> FileResponse:
        p = PresignedUrlResponse.model_validate(
            self._json(
                RequestOptions(
                    "POST",
                    "files/presigned-url",
                    json={"filename": source.filename, "purpose": purpose},
                )
            )
        )

        def body() -> Iterator[bytes]:
            sent = 0
            for chunk in source.chunks():
                yield chunk
                sent += len(chunk)
                if on_progress is not None:
                    on_progress(sent, max(source.size or 0, sent))

        headers = {"Content-Type": p.content_type or "application/octet-stream"}
        if source.size is not None:
            headers["Content-Length"] = str(source.size)
        self._client.request(
            RequestOptions(
                "PUT",
                p.url,
                content=body,
                headers=headers,
                timeout=timeout,
                authenticated=False,
                retryable=source.seekable,
            )
        )
        return FileResponse.model_validate(
            self._json(RequestOptions("GET", f"files/verify-upload/{p.id}"))
        )

    def _cached(self, sha256: str, purpose: str | None) -> FileResponse | None:
        try:
            data = self._json(
                RequestOptions(
                    "GET",
                    f"files/hash/{sha256}",
                    params={"purpose": purpose} if purpose else None,
                )
            )
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


# Last, because async_files.py imports AsyncFileList from this module (and reads PAGE here,
# where tests patch it). ``from vlmfiles.resources.files import AsyncFiles`` keeps working.
from .async_files import AsyncFiles  # noqa: E402
