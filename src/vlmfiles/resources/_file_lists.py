"""What ``files.list()`` returns: the files fetched a page at a time, by cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from .._protocol import LIST_MAX_LIMIT
from ..types import FileResponse
from ._files_common import _list_params

PAGE = LIST_MAX_LIMIT  # the server's largest page, unless its list_max_limit is set lower


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
