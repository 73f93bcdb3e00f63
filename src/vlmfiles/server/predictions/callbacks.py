"""``callback_url`` webhooks: the tenant's signing secret, the URL check at submit, and
one delivery attempt (worker side; ``callback_queue.py`` schedules them).

A delivery POSTs the prediction's JSON, signed ``X-VLMRun-Signature: sha256=<hex
HMAC-SHA256(tenant secret, raw body)>`` (what the official SDK's ``verify_webhook``
checks). Each attempt is one of:

    delivered      a 2xx
    retried        a connection error, a timeout, a 5xx, 408 or 429
    final          another status (3xx: redirects are not followed; 4xx: the receiver
                   refused this body, sending it again would not change that), or an
                   address this server does not connect to
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore

from ..engines.base import InputRejected
from ..errors import BadRequest
from ..security import load_or_create_secret
from ..settings import Settings
from .fetch import GuardedBackend
from .inputs import is_public_host

MAX_URL_LENGTH = 2048  # the predictions.callback_url column
RESPONSE_CAP = 1024  # bytes of a receiver's answer read (kept for the error text: 200)
RETRIED_STATUSES = (408, 429)
SECRET_PREFIX = "whsec_"
_SECRET_CONTEXT = b"vlmfiles callback secret\x00"


def server_secret(settings: Settings) -> bytes:
    """The server's signing secret, as ``app.open_service`` reads it."""
    if settings.secret_key:
        return settings.secret_key.encode()
    return load_or_create_secret(settings.data_dir)


def tenant_secret(secret: bytes, tenant_id: str) -> str:
    """A tenant's webhook secret, derived from the server's: every process agrees on it
    without storing it, and one tenant's secret says nothing of another's."""
    digest = hmac.new(secret, _SECRET_CONTEXT + tenant_id.encode(), hashlib.sha256)
    return SECRET_PREFIX + digest.hexdigest()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_callback_url(url: str | None, allow_private: bool) -> str | None:
    """At submit: an http(s) URL with a host, within the length bound, and (unless
    allowed) not a literal loopback, private or link-local address."""
    if url is None:
        return None
    if len(url) > MAX_URL_LENGTH:
        raise BadRequest(
            f"callback_url is {len(url)} characters long; the limit is {MAX_URL_LENGTH}."
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(
            f"callback_url {url[:200]!r} is not usable: an http(s) URL with a host is "
            "accepted (e.g. https://example.com/hooks/vlm)."
        )
    if not allow_private and not is_public_host(parts.hostname):
        raise BadRequest(
            f"callback_url's host {parts.hostname!r} is a loopback, private or link-local "
            "address, which this server does not call (VLMFILES_ALLOW_PRIVATE_URLS); use a "
            "public http(s) URL."
        )
    return url


@dataclass
class Attempt:
    """One POST's outcome, as the prediction shows it (``record``) and what follows."""

    status_code: int | None
    error: str | None
    duration_ms: int
    delivered: bool
    final: bool  # no further attempt would change the answer

    def record(self, at: str) -> dict[str, Any]:
        return {
            "at": at,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool
) -> Attempt:
    """One POST, no redirect followed, at most ``RESPONSE_CAP`` bytes of the answer read;
    every address the host resolves to is checked when it connects."""
    started = time.monotonic()
    backend = GuardedBackend(allow_private, what="the callback_url")
    timeouts = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    code: int | None = None
    head = b""
    error: str | None = None
    final = False
    try:
        with httpcore.ConnectionPool(network_backend=backend, retries=0) as pool:
            with pool.stream(
                "POST",
                url,
                headers=list(headers.items()),
                content=body,
                extensions={"timeout": timeouts},
            ) as resp:
                code = resp.status
                for chunk in resp.iter_stream():
                    head += chunk
                    if len(head) >= RESPONSE_CAP:
                        break
    except InputRejected as exc:
        error, final = str(exc), True
    except httpcore.TimeoutException as exc:
        error = f"timed out after {timeout:g} s (VLMFILES_CALLBACK_TIMEOUT_SECONDS): {exc}"
    except (OSError, httpcore.NetworkError, httpcore.ProtocolError) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except httpcore.UnsupportedProtocol as exc:
        error, final = f"cannot call {url[:200]}: {exc}", True
    duration_ms = int((time.monotonic() - started) * 1000)
    if code is not None and not 200 <= code < 300:
        text = head[:200].decode("utf-8", "replace")
        error = f"the receiver answered {code}" + (f": {text}" if text else "")
        final = code < 500 and code not in RETRIED_STATUSES
    return Attempt(
        status_code=code,
        error=error,
        duration_ms=duration_ms,
        delivered=code is not None and 200 <= code < 300,
        final=final,
    )
