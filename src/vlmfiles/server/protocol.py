"""uvicorn's httptools protocol, with the limits it lacks on what a client may hold.

uvicorn's httptools protocol (our HTTP/1.1 parser: h11 would cost several times the CPU)
bounds neither the size nor the number of request headers (llhttp has no limit, and
httptools gathers a header in memory until it ends), starts no timer on a new connection
and none while headers arrive, and answers past ``limit_concurrency`` and bad requests in
plain text. Here, per connection:

- request line and headers over ``max_header_bytes``, or more than ``max_header_count``
  fields: 431, judged once they are parsed, and counted as they arrive when they take more
  than one read (so httptools never gathers more than a read past the limit);
- headers not complete ``header_timeout_seconds`` after their first byte: 408;
- no request on a new or kept-alive connection for ``idle_timeout_seconds``: closed quietly
  (uvicorn's keep-alive timer, armed on a new connection too);
- no byte of a request's body for ``body_timeout_seconds`` while the server waits for one
  (not while it has stopped reading to let the app catch up): 408 if nothing was answered
  yet, and closed; the app sees a disconnect, and the upload is discarded;
- past ``max_connections``, and a request that does not parse: 503 / 400;

every answer in the API's one error shape, then the connection closed after a short
lingering read, so the client sees the answer rather than a reset. Subclassing keeps
uvicorn's request cycle, flow control and keep-alive untouched.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any, NamedTuple

import httptools
import orjson
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .settings import load_settings

LINGER_BYTES = 1024 * 1024  # read and dropped after a refusal, so the answer is not reset
LINGER_SECONDS = 2.0


class Limits(NamedTuple):
    max_header_bytes: int
    max_header_count: int
    header_timeout: float
    body_timeout: float


@functools.cache
def _limits() -> Limits:
    # Read once per process: each uvicorn worker builds its settings from the environment.
    s = load_settings()
    return Limits(
        s.max_header_bytes, s.max_header_count, s.header_timeout_seconds, s.body_timeout_seconds
    )


def _error(type_: str, message: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The body and headers of an answer in the API's error shape, closing the connection."""
    rid = f"req_{os.urandom(16).hex()}"
    body = orjson.dumps({"error": {"message": message, "type": type_, "id": rid}})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"x-request-id", rid.encode()),
        (b"connection", b"close"),
    ]
    return body, headers


def error_bytes(status: int, type_: str, message: str) -> bytes:
    """A whole HTTP response in the API's error shape, closing the connection."""
    body, headers = _error(type_, message)
    lines = [STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in headers)]
    return b"".join(lines) + b"\r\n" + body


async def _unavailable(scope: Any, receive: Any, send: Any) -> None:
    """What uvicorn's ``service_unavailable`` answers past the limit, in our shape."""
    body, headers = _error(
        "service_unavailable_error",
        "The server is at its connection limit (max_connections); retry shortly.",
    )
    headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the answer is in ``response``."""

    def __init__(self, response: bytes) -> None:
        self.response = response


class _Flow(FlowControl):
    """uvicorn's flow control, noting when reading resumed: a client is not idle while
    the server was not reading from it."""

    resumed_at = 0.0

    def resume_reading(self) -> None:
        if self.read_paused:
            self.resumed_at = time.monotonic()
        super().resume_reading()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = _limits()
        # uvicorn's check answers in plain text: ours runs instead (on_headers_complete).
        self.max_connections, self.limit_concurrency = self.limit_concurrency, None
        self.in_headers = False
        self.raw_header_bytes = 0  # received while the headers were incomplete
        self.header_timer: Any = None
        self.body_timer: Any = None
        self.last_read = 0.0
        self.lingering = -1  # bytes still to drop after a refusal; -1: not refused

    # Connection ----------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.flow = _Flow(transport)
        # A connection that never sends a request is idle too (uvicorn arms this timer only
        # after a response).
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.lingering >= 0:
            self.lingering -= len(data)
            if self.lingering < 0:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            refused = exc.__context__
            if isinstance(refused, _Refused):
                self._refuse(refused.response)
            else:
                self.send_400_response(f"Invalid HTTP request: {exc}.")
            return
        # Headers that arrive in one chunk (nearly all) were judged in on_headers_complete,
        # and cost no timer; these are still arriving.
        if self.in_headers:  # every byte of this chunk belongs to the headers
            self.raw_header_bytes += len(data)  # a field httptools still gathers counts too
            if self.raw_header_bytes > self.limits.max_header_bytes:
                self._refuse(self._too_large())
                return
        elif self.cycle is not None and not self.cycle.response_complete:
            # A request in progress: a body still to come is on the clock. One that came
            # with its headers (a small upload) costs no timer.
            if self.cycle.more_body:
                self.last_read = time.monotonic()
                if self.body_timer is None:
                    self.body_timer = self.loop.call_later(
                        self.limits.body_timeout, self._body_timeout
                    )
            return
        if self.header_timer is None:  # headers on the way, or blank lines: on the clock
            self.header_timer = self.loop.call_later(
                self.limits.header_timeout, self._header_timeout
            )

    def send_400_response(self, msg: str) -> None:
        self.logger.warning(msg)
        self._refuse(error_bytes(400, "invalid_request_error", msg))

    def _refuse(self, response: bytes) -> None:
        """Answer, stop parsing, and close after a short lingering read (a close with unread
        bytes would reset the connection before the client read the answer)."""
        self._stop_header_timer()
        self.in_headers = False
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the request in progress ends now; its app stops
            cycle.message_event.set()
        self.transport.write(response)
        self.lingering = LINGER_BYTES
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
        self.flow.resume_reading()

    # Timers --------------------------------------------------------------------------

    def _stop_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timeout(self) -> None:
        self.header_timer = None
        if self.transport.is_closing():
            return
        if not self.in_headers:  # only blank lines, or a body's tail: idle
            self.transport.close()
            return
        self._refuse(
            error_bytes(
                408,
                "invalid_request_error",
                f"The request's headers did not arrive within {self.limits.header_timeout:g} "
                "s (header_timeout_seconds); send them at once.",
            )
        )

    def _body_timeout(self) -> None:
        self.body_timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body or cycle.response_complete:
            return
        if self.transport.is_closing():
            return
        now = time.monotonic()
        waited = now - max(self.last_read, self.flow.resumed_at)  # type: ignore[attr-defined]
        if self.flow.read_paused or waited < self.limits.body_timeout:
            left = self.limits.body_timeout - (0 if self.flow.read_paused else waited)
            self.body_timer = self.loop.call_later(left, self._body_timeout)
            return
        if not cycle.response_started:
            message = (
                f"No byte of the request's body arrived for {self.limits.body_timeout:g} s "
                "(body_timeout_seconds); nothing was stored."
            )
            self.transport.write(error_bytes(408, "invalid_request_error", message))
        self.transport.close()

    # Parser callbacks ----------------------------------------------------------------

    def _too_large(self) -> bytes:
        return error_bytes(
            431,
            "invalid_request_error",
            f"Request headers too large: at most {self.limits.max_header_bytes} bytes "
            f"(max_header_bytes) and {self.limits.max_header_count} fields "
            "(max_header_count), request line included.",
        )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_headers = True
        self.raw_header_bytes = 0

    def on_headers_complete(self) -> None:
        self.in_headers = False
        self._stop_header_timer()
        if len(self.headers) > self.limits.max_header_count or (
            len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers)
            > self.limits.max_header_bytes
        ):
            raise _Refused(self._too_large())
        limit = self.max_connections
        if limit is None or (len(self.connections) < limit and len(self.tasks) < limit):
            super().on_headers_complete()
            return
        self.logger.warning("Past max_connections (%d): answered 503.", limit)
        app, self.app = self.app, _unavailable
        try:
            super().on_headers_complete()
        finally:
            self.app = app
