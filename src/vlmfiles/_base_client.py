"""Request building, retries and error mapping shared by ``Client`` and ``AsyncClient``.

Retries are data: :func:`should_retry_status` says which answers are worth another try,
:func:`retry_delay` how long to wait (``Retry-After`` first, else jittered exponential
backoff). A request body is never a one-shot stream: it is built by a factory called once
per attempt, which rewinds the file first, so a retried upload sends the same bytes again.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from ._version import __version__
from .exceptions import (
    APIConnectionError,
    ApiError,
    APITimeoutError,
    VlmFilesError,
    error_class_for_status,
)

log = logging.getLogger("vlmfiles")

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0

TimeoutTypes = float | httpx.Timeout | None


def should_retry_status(status_code: int) -> bool:
    """Request timeout, rate limit and server errors are worth another try; nothing else."""
    return status_code in (408, 429) or status_code >= 500


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait (``Retry-After-Ms``, ``Retry-After``), or None."""
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return email.utils.mktime_tz(parsed) - time.time()


def retry_delay(retries_taken: int, headers: Mapping[str, str] | None = None) -> float:
    """How long to sleep before retry number ``retries_taken + 1``."""
    retry_after = parse_retry_after(headers)
    if retry_after is not None and 0 <= retry_after <= MAX_RETRY_AFTER:
        return retry_after
    delay = min(INITIAL_RETRY_DELAY * 2.0**retries_taken, MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


def make_status_error(response: httpx.Response) -> ApiError:
    """The exception for an error answer (its body must have been read)."""
    message, type_, request_id, body = None, None, None, None
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            type_ = error.get("type")
            request_id = error.get("id")
        elif isinstance(error, str):
            message = error
        elif "detail" in body:
            message = str(body["detail"])
    elif isinstance(body, str) and body.strip():
        message = body.strip()[:500]
    request_id = response.headers.get("x-request-id") or request_id
    cls = error_class_for_status(response.status_code)
    return cls(
        str(message or response.reason_phrase or "Request failed"),
        status_code=response.status_code,
        type=type_,
        request_id=request_id,
        request=response.request,
        response=response,
        body=body,
    )


@dataclass
class RequestOptions:
    """One API call. ``content`` is a body factory, called afresh for every attempt."""

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content: Callable[[], Iterable[bytes] | AsyncIterable[bytes]] | None = None
    timeout: TimeoutTypes | httpx.Timeout = None
    authenticated: bool = True
    stream: bool = False
    retryable: bool = True


class BaseClient:
    """Configuration and request building common to the sync and async clients."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | httpx.URL | None,
        timeout: TimeoutTypes,
        max_retries: int,
        default_headers: Mapping[str, str] | None,
    ) -> None:
        api_key = api_key or os.environ.get("VLMFILES_API_KEY") or os.environ.get("VLMRUN_API_KEY")
        if not api_key:
            raise VlmFilesError(
                "No API key: pass api_key=... to the client, or set the VLMFILES_API_KEY "
                "(or VLMRUN_API_KEY) environment variable."
            )
        base_url = (
            base_url
            or os.environ.get("VLMFILES_BASE_URL")
            or os.environ.get("VLMRUN_BASE_URL")
            or DEFAULT_BASE_URL
        )
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.api_key = api_key
        self.base_url = str(base_url).rstrip("/")
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.max_retries = max_retries
        self._default_headers = {
            "Accept": "application/json",
            "User-Agent": f"vlmfiles-python/{__version__}",
            "X-Client-Id": f"vlmfiles-python-sdk-{__version__}",
            **(default_headers or {}),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _headers(self, opts: RequestOptions) -> dict[str, str]:
        headers = dict(self._default_headers)
        if opts.authenticated:
            headers["Authorization"] = f"Bearer {self.api_key}"
        headers.update(opts.headers)
        return headers

    def _timeout(self, opts: RequestOptions) -> httpx.Timeout:
        if opts.timeout is None:
            return self.timeout
        if isinstance(opts.timeout, httpx.Timeout):
            return opts.timeout
        return httpx.Timeout(opts.timeout)

    def _max_retries(self, opts: RequestOptions) -> int:
        return self.max_retries if opts.retryable else 0

    @staticmethod
    def _network_error(exc: httpx.TransportError, request: httpx.Request) -> ApiError:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"Request timed out: {request.method} {request.url}")
        detail = str(exc) or type(exc).__name__
        return APIConnectionError(
            f"Connection error on {request.method} {request.url}: {detail}", request=request
        )


class SyncAPIClient(BaseClient):
    """Sends requests with ``httpx.Client``, retrying what is worth retrying."""

    def __init__(self, *, http_client: httpx.Client | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owns_http_client = http_client is None
        self._client = http_client or httpx.Client(follow_redirects=True)

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def request(self, opts: RequestOptions) -> httpx.Response:
        """Send ``opts``; return the successful answer (open, when ``opts.stream``)."""
        retries_taken = 0
        max_retries = self._max_retries(opts)
        while True:
            body = opts.content() if opts.content is not None else None
            request = self._client.build_request(
                opts.method,
                self._url(opts.url),
                params=opts.params,
                json=opts.json,
                content=body,
                headers=self._headers(opts),
                timeout=self._timeout(opts),
            )
            response = None
            try:
                response = self._client.send(request, stream=True)
                if not (opts.stream and response.is_success):
                    response.read()
            except httpx.TransportError as exc:
                if response is not None:
                    response.close()
                if retries_taken < max_retries:
                    delay = retry_delay(retries_taken)
                    log.info("Retrying %s %s in %.2fs: %r", opts.method, opts.url, delay, exc)
                    self._sleep(delay)
                    retries_taken += 1
                    continue
                raise self._network_error(exc, request) from exc
            if response.is_success:
                return response
            if should_retry_status(response.status_code) and retries_taken < max_retries:
                delay = retry_delay(retries_taken, response.headers)
                log.info(
                    "Retrying %s %s in %.2fs: status %s",
                    opts.method,
                    opts.url,
                    delay,
                    response.status_code,
                )
                response.close()
                self._sleep(delay)
                retries_taken += 1
                continue
            raise make_status_error(response)

    def close(self) -> None:
        """Close the connection pool (only if the client created it)."""
        if self._owns_http_client:
            self._client.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncAPIClient(BaseClient):
    """Sends requests with ``httpx.AsyncClient``, retrying what is worth retrying."""

    def __init__(self, *, http_client: httpx.AsyncClient | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owns_http_client = http_client is None
        self._client = http_client or httpx.AsyncClient(follow_redirects=True)

    async def _sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)

    async def request(self, opts: RequestOptions) -> httpx.Response:
        """Send ``opts``; return the successful answer (open, when ``opts.stream``)."""
        retries_taken = 0
        max_retries = self._max_retries(opts)
        while True:
            body = opts.content() if opts.content is not None else None
            request = self._client.build_request(
                opts.method,
                self._url(opts.url),
                params=opts.params,
                json=opts.json,
                content=body,
                headers=self._headers(opts),
                timeout=self._timeout(opts),
            )
            response = None
            try:
                response = await self._client.send(request, stream=True)
                if not (opts.stream and response.is_success):
                    await response.aread()
            except httpx.TransportError as exc:
                if response is not None:
                    await response.aclose()
                if retries_taken < max_retries:
                    delay = retry_delay(retries_taken)
                    log.info("Retrying %s %s in %.2fs: %r", opts.method, opts.url, delay, exc)
                    await self._sleep(delay)
                    retries_taken += 1
                    continue
                raise self._network_error(exc, request) from exc
            if response.is_success:
                return response
            if should_retry_status(response.status_code) and retries_taken < max_retries:
                delay = retry_delay(retries_taken, response.headers)
                log.info(
                    "Retrying %s %s in %.2fs: status %s",
                    opts.method,
                    opts.url,
                    delay,
                    response.status_code,
                )
                await response.aclose()
                await self._sleep(delay)
                retries_taken += 1
                continue
            raise make_status_error(response)

    async def close(self) -> None:
        """Close the connection pool (only if the client created it)."""
        if self._owns_http_client:
            await self._client.aclose()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
