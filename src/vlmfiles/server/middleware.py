"""ASGI middleware: request ids, draining unread bodies before an error answer, and
backend failures answered in the error shape.

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

from .errors import classify_backend_error, error_response, log, scope_request_id

DRAIN_BYTES = 32 * 1024 * 1024
DRAIN_SECONDS = 5.0


class ApiMiddleware:
    """What every request gets, in one layer (three layers, each wrapping ``send``, cost
    every request several times the CPU of one):

    - an id (``X-Request-Id``), echoed in error bodies and logs;
    - before an error answer (status >= 400), the unread rest of the body is drained
      (see the module's docstring), unless the client still waits for "100 Continue";
    - a redirect's ``Location`` is made relative (never the request's ``Host``);
    - a backing service that fails (database, disk, object store) is answered 503/507 in
      the one error shape. Starlette runs ``exception_handler(Exception)`` in its outermost
      middleware, past this one, and then re-raises, which makes uvicorn drop the
      connection; backend failures are expected operating conditions, so they are answered
      here, like any other API error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = scope_request_id(scope)
        body_done = False
        disconnected = False
        started = False
        receiving = False

        async def tracking_receive() -> Message:
            nonlocal body_done, disconnected, receiving
            receiving = True
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_done = True
            elif message["type"] == "http.disconnect":
                disconnected = True
            return message

        async def api_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                status = message["status"]
                if status >= 400 and not body_done and not disconnected:
                    if not receiving and _expects_continue(scope):
                        # The client waits for "100 Continue" (which uvicorn sends on the
                        # first receive) before its body: refuse without inviting it, and
                        # close, since it may send the body or not (RFC 9110 10.1.1).
                        headers.append((b"connection", b"close"))
                    else:
                        await _drain(tracking_receive)
                elif status in (307, 308):
                    headers = [_relative_location(h) for h in headers]
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, tracking_receive, api_send)
        except Exception as exc:
            mapped = classify_backend_error(exc)
            if mapped is None or started:
                raise
            request = Request(scope)
            log.warning("%s %s [%s]: %s", request.method, request.url.path, rid, exc)
            response = error_response(
                request, mapped.status_code, mapped.type, mapped.message, mapped.headers
            )
            await response(scope, tracking_receive, api_send)


def _expects_continue(scope: Scope) -> bool:
    return any(k == b"expect" and v.lower() == b"100-continue" for k, v in scope["headers"])


def _relative_location(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """Starlette's trailing-slash redirect names the request's ``Host``, which the client
    chose (``Host: evil.example`` made us redirect there): keep only path and query."""
    name, value = header
    if name.lower() != b"location" or not value.startswith((b"http://", b"https://")):
        return header
    path_start = value.find(b"/", value.index(b"//") + 2)
    return name, value[path_start:] if path_start >= 0 else b"/"


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
