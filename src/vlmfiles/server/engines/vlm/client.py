"""One blocking client to an OpenAI-compatible ``/chat/completions``, shared by a process.

Faults are sorted here: 429, 5xx, timeouts and refused connections are retried a few times
with backoff (429's Retry-After honoured, bounded), then raised as ``ModelUnavailable`` so
the job goes back to the broker; any other 4xx is an ``EngineError`` at once, with the
endpoint's own message. A semaphore bounds requests in flight; the job's deadline bounds
every wait, the semaphore's included. The API key is never part of a message.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..base import EngineError, JobTimeout, Limits, ModelUnavailable

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 8.0
RETRY_AFTER_MAX = 30.0  # a Retry-After longer than this is not waited for in the job
MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a reply larger than this is refused, not parsed


@dataclass(frozen=True)
class Answer:
    content: str
    usage: dict[str, int]


class ChatClient:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        *,
        max_concurrency: int,
        timeout: float,
        max_attempts: int,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self.max_attempts = max_attempts
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, follow_redirects=False, trust_env=False)
        self._slots = threading.BoundedSemaphore(max_concurrency)

    def close(self) -> None:
        self._http.close()

    def complete(self, body: dict[str, Any], limits: Limits) -> Answer:
        """One chat completion, retried on transient faults within the job's deadline."""
        body = {"model": self.model, **body}
        last, tries = "", 0
        for attempt in range(1, self.max_attempts + 1):
            tries = attempt
            wait = 0.0
            try:
                return self._once(body, limits)
            except _Retry as exc:
                last, wait = str(exc), exc.after
            if attempt == self.max_attempts:
                break
            pause = wait or min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempt - 1))
            pause *= 1 + random.random() * 0.2  # jitter: workers retrying together spread out
            if time.monotonic() + pause > limits.deadline:
                break
            time.sleep(pause)
        raise ModelUnavailable(
            f"the model endpoint {self.url} did not answer usably after "
            f"{tries} {'try' if tries == 1 else 'tries'}: {last}"
        )

    def _once(self, body: dict[str, Any], limits: Limits) -> Answer:
        left = limits.deadline - time.monotonic()
        if left <= 0 or not self._slots.acquire(timeout=left):
            raise JobTimeout(
                f"the job ran past its time limit waiting for the model endpoint {self.url}"
            )
        try:
            left = limits.deadline - time.monotonic()
            timeout = max(0.1, min(self.timeout, left))
            try:
                with self._http.stream("POST", self.url, json=body, timeout=timeout) as r:
                    raw = _read_bounded(r)
            except httpx.TimeoutException as exc:
                if left <= self.timeout:  # the job's deadline, not the endpoint, ended the wait
                    raise JobTimeout(
                        f"the job ran past its time limit waiting for the model endpoint "
                        f"{self.url} (no answer within {timeout:.0f} s)"
                    ) from None
                raise _Retry(f"no answer within {timeout:.0f} s ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                raise _Retry(f"cannot connect: {exc}") from None
        finally:
            self._slots.release()
        if r.status_code == 429:
            raise _Retry(f"429 {_message(raw)}", _retry_after(r.headers.get("retry-after")))
        if r.status_code >= 500:
            raise _Retry(f"{r.status_code} {_message(raw)}")
        if r.status_code >= 400:
            raise EngineError(
                f"the model endpoint {self.url} refused the request "
                f"({r.status_code}): {_message(raw)}"
            )
        return _answer(raw, self.url)


class _Retry(Exception):
    def __init__(self, message: str, after: float = 0.0) -> None:
        super().__init__(message)
        self.after = after


def _read_bounded(r: httpx.Response) -> bytes:
    chunks, size = [], 0
    for chunk in r.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise EngineError(f"the model's answer is over {MAX_ANSWER_BYTES} bytes; refused")
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(value: str | None) -> float:
    try:
        return min(RETRY_AFTER_MAX, max(0.0, float(value))) if value else 0.0
    except ValueError:
        return 0.0


def _message(raw: bytes) -> str:
    """The endpoint's error message (OpenAI's shape), else the start of its body."""
    try:
        err = json.loads(raw).get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
        if isinstance(err, str):
            return err[:500]
    except (ValueError, AttributeError):
        pass
    return raw[:200].decode("utf-8", "replace") or "(empty body)"


def _answer(raw: bytes, url: str) -> Answer:
    try:
        data = json.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ModelUnavailable(
            f"the model endpoint {url} answered 200 without a chat completion: "
            f"{raw[:200].decode('utf-8', 'replace')}"
        ) from None
    usage = data.get("usage") or {}
    tokens = {
        k: int(usage[k])
        for k in ("prompt_tokens", "completion_tokens", "total_tokens")
        if isinstance(usage.get(k), int)
    }
    return Answer(content if isinstance(content, str) else "", tokens)
