"""``Client`` and ``AsyncClient``: configuration, the connection pool, and resources.

Both read the API key and base URL from their arguments, else ``VLMFILES_API_KEY`` /
``VLMFILES_BASE_URL``, else the official SDK's ``VLMRUN_API_KEY`` / ``VLMRUN_BASE_URL`` (so
one environment serves both SDKs); the base URL defaults to a local server.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import httpx

from ._base_client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncAPIClient,
    SyncAPIClient,
    TimeoutTypes,
)
from .resources.document import AsyncDocument, Document
from .resources.feedback import AsyncFeedback, Feedback
from .resources.files import AsyncFiles, Files
from .resources.image import AsyncImage, Image
from .resources.predictions import AsyncPredictions, Predictions
from .resources.webhooks import AsyncWebhooks, Webhooks

__all__ = ["AsyncClient", "Client"]


class Client(SyncAPIClient):
    """The vlmfiles API, synchronously. Use it as a context manager, or ``close()`` it."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            http_client=http_client,
        )

    @cached_property
    def files(self) -> Files:
        return Files(self)

    @cached_property
    def image(self) -> Image:
        return Image(self)

    @cached_property
    def document(self) -> Document:
        return Document(self)

    @cached_property
    def predictions(self) -> Predictions:
        return Predictions(self)

    @cached_property
    def feedback(self) -> Feedback:
        return Feedback(self)

    @cached_property
    def webhooks(self) -> Webhooks:
        return Webhooks(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class AsyncClient(AsyncAPIClient):
    """The vlmfiles API, for asyncio and trio. ``async with`` it, or ``await close()``."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        *,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            http_client=http_client,
        )

    @cached_property
    def files(self) -> AsyncFiles:
        return AsyncFiles(self)

    @cached_property
    def image(self) -> AsyncImage:
        return AsyncImage(self)

    @cached_property
    def document(self) -> AsyncDocument:
        return AsyncDocument(self)

    @cached_property
    def predictions(self) -> AsyncPredictions:
        return AsyncPredictions(self)

    @cached_property
    def feedback(self) -> AsyncFeedback:
        return AsyncFeedback(self)

    @cached_property
    def webhooks(self) -> AsyncWebhooks:
        return AsyncWebhooks(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()
