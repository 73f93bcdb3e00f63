"""The event loop ``vlmfiles serve`` runs on: uvloop, taking every waiting connection.

libuv 1.45 and later accept one connection per turn of the event loop (libuv pull request
3696: most second ``accept`` calls find nothing). uvloop inherits that. On a busy server a
turn lasts as long as the requests it runs, so a burst of new connections waits in the
listen queue one turn each, many times longer than on asyncio's own loop, which accepts
up to the backlog per turn (and serves requests more slowly).

`Loop` keeps uvloop and does what asyncio's loop does: when libuv hands over a connection,
the connections that wait behind it are accepted too (up to the backlog) and served on
uvloop's transports (`connect_accepted_socket`). Nothing else changes. Written here because
neither libuv, uvloop nor uvicorn has a setting for it.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Any, cast

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it on Linux and macOS
    uvloop = None  # type: ignore[assignment]


if uvloop is None:  # pragma: no cover - asyncio's loop already accepts up to the backlog
    Loop = asyncio.new_event_loop
else:

    class Loop(uvloop.Loop):  # type: ignore[no-redef]
        async def create_server(  # type: ignore[override]
            self, protocol_factory: Callable[[], asyncio.BaseProtocol], *args: Any, **kwargs: Any
        ) -> asyncio.AbstractServer:
            if kwargs.get("ssl") is not None:
                return await super().create_server(protocol_factory, *args, **kwargs)
            backlog = kwargs.get("backlog") or 100
            listeners: list[socket.socket] = []

            def make_protocol() -> asyncio.BaseProtocol:
                protocol = protocol_factory()
                # libuv has accepted one connection and asks for its protocol: take the
                # ones waiting behind it now rather than one per turn of the loop.
                for listener in listeners:
                    _accept_waiting(self, listener, protocol_factory, backlog)
                return protocol

            server = await super().create_server(make_protocol, *args, **kwargs)
            # Our own descriptors for the listening sockets (uvloop's stay uvloop's);
            # closed with the server, or the port would keep taking connections.
            listeners.extend(
                socket.socket(fileno=os.dup(sock.fileno()))
                for sock in cast(asyncio.Server, server).sockets
            )
            return _Server(server, listeners)


def _accept_waiting(
    loop: asyncio.AbstractEventLoop,
    listener: socket.socket,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    limit: int,
) -> None:
    for _ in range(limit):
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return  # none waiting
        except ConnectionAbortedError:
            continue  # the client gave up while queued
        except OSError:
            return  # out of descriptors, or closed: libuv's own accept deals with it
        conn.setblocking(False)
        task = loop.create_task(_serve(loop, conn, protocol_factory))
        _setting_up.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(_setting_up.discard)


_setting_up: set[asyncio.Task[None]] = set()


async def _serve(
    loop: asyncio.AbstractEventLoop,
    conn: socket.socket,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
) -> None:
    try:
        await loop.connect_accepted_socket(protocol_factory, conn)
    except OSError:
        conn.close()  # the client went away before its transport was set up


class _Server(asyncio.AbstractServer):
    """uvloop's server, closing our listening descriptors with it."""

    def __init__(self, server: asyncio.AbstractServer, listeners: list[socket.socket]):
        self._server = server
        self._listeners = listeners

    @property
    def sockets(self) -> Any:
        return self._server.sockets  # type: ignore[attr-defined]

    def close(self) -> None:
        self._server.close()
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._server.get_loop()

    def is_serving(self) -> bool:
        return self._server.is_serving()

    async def start_serving(self) -> None:
        await self._server.start_serving()

    async def serve_forever(self) -> None:
        await self._server.serve_forever()

    async def wait_closed(self) -> None:
        await self._server.wait_closed()
