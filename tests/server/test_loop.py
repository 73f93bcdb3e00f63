"""The server's event loop takes every waiting connection when it accepts one.

uvloop (libuv >= 1.45) accepts one connection per turn of the loop, so on a busy server a
burst of new connections waited one turn each: up to 2.3 s for 64 clients. These tests run
`vlmfiles.server.loop.Loop` in a thread, hold it busy while clients connect, and count the
turns it needs to take them all: no timing is asserted.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vlmfiles.server.loop import Loop

CLIENTS = 24


@dataclass
class Running:
    loop: asyncio.AbstractEventLoop
    server: asyncio.AbstractServer
    port: int
    turns: int = 0
    ticking: bool = True
    transports: list[asyncio.BaseTransport] = field(default_factory=list)
    accepted_on_turn: list[int] = field(default_factory=list)
    all_accepted: threading.Event = field(default_factory=threading.Event)


class Echo(asyncio.Protocol):
    def __init__(self, running: Running):
        self.running = running

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.running.transports.append(transport)
        self.running.accepted_on_turn.append(self.running.turns)
        if len(self.running.accepted_on_turn) == CLIENTS:
            self.running.all_accepted.set()

    def data_received(self, data: bytes) -> None:
        self.transport.write(data.upper())  # type: ignore[attr-defined]


@pytest.fixture
def running() -> Iterator[Running]:
    loop = Loop()
    ready = threading.Event()
    holder: list[Running] = []

    async def start() -> None:
        state = Running(loop, None, 0)  # type: ignore[arg-type]
        state.server = await loop.create_server(lambda: Echo(state), "127.0.0.1", 0)
        state.port = state.server.sockets[0].getsockname()[1]

        def count_turn() -> None:  # runs once per turn of the loop
            state.turns += 1
            if state.ticking:
                loop.call_soon(count_turn)

        count_turn()
        holder.append(state)
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    ready.wait(10)
    yield holder[0]

    async def stop() -> None:
        state = holder[0]
        state.ticking = False
        for transport in state.transports:
            transport.close()
        state.server.close()
        await state.server.wait_closed()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _hold_busy(loop: asyncio.AbstractEventLoop) -> threading.Event:
    """Block the loop's thread (as a long request would) until the event is set. Returns
    once the loop is held: had clients connected before, a loop that woke late (a busy
    CI machine) could poll their connections in the same turn and accept them first."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        release.wait(10)

    loop.call_soon_threadsafe(hold)
    assert held.wait(10)
    return release


def _queued(port: int) -> int:
    """Connections waiting in the listen queue of ``port`` (Linux: a listening socket's
    ``rx_queue`` in /proc/net/tcp is its accept backlog)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            return int(fields[4].split(":")[1], 16)
    return 0


def test_connections_waiting_behind_a_busy_turn_are_all_accepted_in_the_next(
    running: Running,
) -> None:
    release = _hold_busy(running.loop)
    # The kernel completes each handshake and queues it; nobody accepts while the loop is held.
    clients = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(CLIENTS)]
    try:
        # A client is connected once it has sent its ACK; the server's kernel may queue
        # the connection a moment later (softirq): wait until all of them wait.
        deadline = time.monotonic() + 5
        while _queued(running.port) < CLIENTS and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _queued(running.port) == CLIENTS
        release.set()
        assert running.all_accepted.wait(10), running.accepted_on_turn
        turns = running.accepted_on_turn
        # uvloop alone: one connection per turn, spread over CLIENTS - 1 turns.
        assert max(turns) - min(turns) <= 1, turns
        # And each is served: a request on every connection gets its answer.
        for i, client in enumerate(clients):
            client.sendall(b"ping %d" % i)
        for i, client in enumerate(clients):
            client.settimeout(10)
            assert client.recv(64) == b"PING %d" % i
    finally:
        for client in clients:
            client.close()


def test_a_closed_server_stops_listening(running: Running) -> None:
    """Our extra descriptors for the listening socket close with the server: otherwise the
    port would go on taking connections that nobody serves."""
    with socket.create_connection(("127.0.0.1", running.port)) as client:
        client.sendall(b"x")
        client.settimeout(10)
        assert client.recv(8) == b"X"

    async def close() -> None:
        running.server.close()
        await running.server.wait_closed()

    asyncio.run_coroutine_threadsafe(close(), running.loop).result(10)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", running.port), timeout=5)
