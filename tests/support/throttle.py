"""A TCP proxy that passes bytes both ways at a set rate: a slow link on loopback.

For tests that watch a transfer as it goes (progress bars): on a fast machine a loopback
transfer of tens of MiB ends before a terminal redraws once. Threads and blocking sockets,
written here because the test needs nothing else (no library throttles a local TCP link
without root, as ``tc`` would need)."""

from __future__ import annotations

import socket
import threading
import time

CHUNK = 64 * 1024


class ThrottledProxy:
    """Listens on a free loopback port and forwards each connection to ``target``, pacing
    each direction to ``rate`` bytes per second."""

    def __init__(self, target: tuple[str, int], rate: float) -> None:
        self.target = target
        self.rate = rate
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        due = time.monotonic()  # when the bytes passed so far have had their time
        try:
            while data := src.recv(CHUNK):
                dst.sendall(data)
                # From now if the link was idle: a keep-alive connection banks no credit.
                due = max(due, time.monotonic()) + len(data) / self.rate
                time.sleep(max(0.0, due - time.monotonic()))
            dst.shutdown(socket.SHUT_WR)  # pass the end of the stream on
        except OSError:  # either side went away: so does the other
            for s in (src, dst):
                s.close()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for s in self._open:
                s.close()

    def __enter__(self) -> ThrottledProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
