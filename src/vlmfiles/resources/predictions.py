"""``client.predictions``: get, list and wait for predictions.

``Predictions`` and ``AsyncPredictions`` run the same plans (``_prediction_plans.py``)
through the sync and async drivers (``_plans.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from .._base_client import TimeoutTypes
from ..types import Prediction
from . import _prediction_plans as plans
from ._plans import arun, run

if TYPE_CHECKING:
    from .._client import AsyncClient, Client

__all__ = ["AsyncPredictionList", "AsyncPredictions", "PredictionList", "Predictions"]


class PredictionList:
    """The predictions of a ``list()`` call, newest first, fetched a page at a time as you
    iterate. ``len()`` and indexing fetch what they need and keep it."""

    def __init__(self, client: Client, skip: int, limit: int | None) -> None:
        self._client = client
        self._pager = plans.ListPager(skip, limit)
        self._items: list[Prediction] = []

    def _next_page(self) -> None:
        request = self._pager.next_request()
        if request is not None:
            self._items.extend(self._pager.accept(self._client.request(request).json()))

    def __iter__(self) -> Iterator[Prediction]:
        i = 0
        while True:
            while i < len(self._items):
                yield self._items[i]
                i += 1
            if self._pager.done:
                return
            self._next_page()

    def _all(self) -> list[Prediction]:
        while not self._pager.done:
            self._next_page()
        return self._items

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, index: int) -> Prediction:
        return self._all()[index]

    def __eq__(self, other: object) -> bool:
        # The official SDK returns a plain list: ``list(...) == []`` keeps working.
        if isinstance(other, (list, tuple, PredictionList)):
            return self._all() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return f"PredictionList(skip={self._pager.skip!r}, limit={self._pager.limit!r})"


class AsyncPredictionList:
    """``async for p in client.predictions.list()``, or ``await ...list(limit=10)``."""

    def __init__(self, client: AsyncClient, skip: int, limit: int | None) -> None:
        self._client = client
        self._skip, self._limit = skip, limit
        plans.ListPager(skip, limit)  # checks the arguments at the call, as the sync list

    async def __aiter__(self) -> AsyncIterator[Prediction]:
        pager = plans.ListPager(self._skip, self._limit)
        while (request := pager.next_request()) is not None:
            for prediction in pager.accept((await self._client.request(request)).json()):
                yield prediction

    def __await__(self) -> Any:
        async def collect() -> list[Prediction]:
            return [p async for p in self]

        return collect().__await__()


class Predictions:
    # Parameters are named ``id`` as in the official SDK, so keyword calls carry over.

    def __init__(self, client: Client) -> None:
        self._client = client

    def get(self, id: str, *, timeout: TimeoutTypes = None) -> Prediction:
        """The prediction as it is now (``response`` is set once ``completed``)."""
        return run(self._client, plans.get(id, timeout))

    def list(self, skip: int = 0, limit: int | None = None) -> PredictionList:
        """Predictions, newest first. ``list(limit=10)``: at most ten. ``list()``: every
        one, fetched a page at a time as you iterate."""
        return PredictionList(self._client, skip, limit)

    def wait(
        self,
        id: str | Prediction,
        timeout: float = plans.DEFAULT_WAIT_TIMEOUT,
        sleep: float = plans.DEFAULT_WAIT_SLEEP,
    ) -> Prediction:
        """Poll every ``sleep`` seconds until the prediction is ``completed`` and return it.
        ``failed`` raises ``PredictionFailedError`` (its ``reason`` says why); not done
        within ``timeout`` seconds raises ``PredictionTimeoutError``."""
        return run(self._client, plans.wait(id, timeout, sleep))


class AsyncPredictions:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def get(self, id: str, *, timeout: TimeoutTypes = None) -> Prediction:
        """As ``Predictions.get``."""
        return await arun(self._client, plans.get(id, timeout))

    def list(self, skip: int = 0, limit: int | None = None) -> AsyncPredictionList:
        """As ``Predictions.list``: ``async for``, or ``await`` for a ``list``."""
        return AsyncPredictionList(self._client, skip, limit)

    async def wait(
        self,
        id: str | Prediction,
        timeout: float = plans.DEFAULT_WAIT_TIMEOUT,
        sleep: float = plans.DEFAULT_WAIT_SLEEP,
    ) -> Prediction:
        """As ``Predictions.wait``."""
        return await arun(self._client, plans.wait(id, timeout, sleep))
