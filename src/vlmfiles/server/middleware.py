"""ASGI middleware: request ids, and draining unread bodies before an error answer.

Why drain: when a handler refuses a request before reading its body (bad key, database
down, declared size over the limit), the client is usually still sending. If the server
answers and closes with unread bytes in its socket buffer, the kernel resets the
connection and the client often never sees the answer, only "connection reset". Like
nginx's lingering close, we first read and drop what remains, within a budget (bytes and
seconds); past it we answer anyway.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import classify_backend_error, error_response, log, request_id

DRAIN_BYTES = 32 * 1024 * 1024
DRAIN_SECONDS = 5.0


class RequestIdMiddleware:
    """Give every request an id (``X-Request-Id``), echoed in error bodies and logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(Request(scope))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class DrainBodyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        disconnected = False

        async def tracking_receive() -> Message:
            nonlocal body_done, disconnected
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_done = True
            elif message["type"] == "http.disconnect":
                disconnected = True
            return message

        async def draining_send(message: Message) -> None:
            if (
                message["type"] == "http.response.start"
                and message["status"] >= 400
                and not body_done
                and not disconnected
            ):
                await self._drain(tracking_receive)
            await send(message)

        await self.app(scope, tracking_receive, draining_send)

    @staticmethod
    async def _drain(receive: Receive) -> None:
        budget = DRAIN_BYTES
        with anyio.move_on_after(DRAIN_SECONDS):
            while budget > 0:
                message = await receive()
                if message["type"] != "http.request":
                    return
                budget -= len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


class BackendErrorMiddleware:
    """Answer 503/507 (in the one error shape) when a backing service fails.

    Starlette runs ``exception_handler(Exception)`` in its outermost middleware, past our
    request-id and drain middleware, and then re-raises, which makes uvicorn drop the
    connection. Backend failures are expected operating conditions, so they are answered
    here, inside the stack, like any other API error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            mapped = classify_backend_error(exc)
            if mapped is None or started:
                raise
            request = Request(scope)
            log.warning(
                "%s %s [%s]: %s", request.method, request.url.path, request_id(request), exc
            )
            response = error_response(
                request, mapped.status_code, mapped.type, mapped.message, mapped.headers
            )
            await response(scope, receive, send)
