"""A webhook receiver for callback tests: a real HTTP server on a loopback port.

It records every POST (path, headers, raw body) and answers each path from a script of
statuses (200 once the script is used up). Paths under ``/hold/`` wait for ``release()``
before answering, to play a slow receiver.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    held: int = 0
    _released: threading.Event = field(default_factory=threading.Event)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._changed:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    script = receiver.scripts.get(self.path) or [200]
                    status = script.pop(0) if len(script) > 1 else script[0]
                    receiver._changed.notify_all()
                if self.path.startswith("/hold/"):
                    with receiver._changed:
                        receiver.held += 1
                        receiver._changed.notify_all()
                    receiver._released.wait()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *statuses: int) -> None:
        """Answer the POSTs to ``path`` with these statuses in turn, the last one after."""
        self.scripts[path] = list(statuses)

    def posts(self, path: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, n: int, timeout: float = 60) -> list[Received]:
        """The first ``n`` POSTs to ``path``, once they arrived (or what came by ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len([r for r in self.received if r.path == path]) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
        return self.posts(path)

    def wait_held(self, n: int, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.held < n and time.monotonic() < deadline:
                self._changed.wait(max(0.0, deadline - time.monotonic()))
            return self.held

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
