"""Small files: many 4 KiB uploads from N concurrent clients, durable (fsynced, committed).

Two clients per target: httpx (what SDK users run; ~1.5 ms of client CPU per request here)
and a minimal raw-socket HTTP/1.1 client (keep-alive, one connection per worker), so the
server's own cost shows. Targets: our POST /v1/files, and SeaweedFS S3 PUTs through
presigned URLs (same clients, same bytes)."""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

SIZE = 4096


@dataclass
class Result:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    errors: int


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def run(workers: int, total: int, make_sender: Callable[[], Callable[[bytes], bool]]) -> Result:
    """``make_sender()`` gives each worker its own sender; a sender sends one body."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_worker = total // workers

    def worker() -> None:
        nonlocal errors
        send = make_sender()
        mine: list[float] = []
        bad = 0
        for _ in range(per_worker):
            body = os.urandom(SIZE)
            t = time.perf_counter()
            ok = send(body)
            mine.append(time.perf_counter() - t)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    return Result(len(latencies) / elapsed, _pct(latencies, 0.5), _pct(latencies, 0.99), errors)


# Senders -----------------------------------------------------------------------------

BOUNDARY = "benchboundary"


def multipart(body: bytes) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="s.bin"\r\n\r\n'.encode()
        + body
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def httpx_ours(base_url: str, key: str) -> Callable[[], Callable[[bytes], bool]]:
    def make() -> Callable[[bytes], bool]:
        client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60)
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

        def send(body: bytes) -> bool:
            return (
                client.post(
                    base_url + "/files", content=multipart(body), headers=headers
                ).status_code
                == 201
            )

        return send

    return make


def httpx_presigned(urls: list[str]) -> Callable[[], Callable[[bytes], bool]]:
    it = iter(urls)
    lock = threading.Lock()

    def make() -> Callable[[bytes], bool]:
        client = httpx.Client(timeout=60)

        def send(body: bytes) -> bool:
            with lock:
                url = next(it)
            return client.put(url, content=body).status_code == 200

        return send

    return make


class RawConnection:
    """Just enough HTTP/1.1 to send a request and read a Content-Length response."""

    def __init__(self, origin: str) -> None:
        parts = urlsplit(origin)
        self.host, self.port = parts.hostname, parts.port or 80
        self.sock = socket.create_connection((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, head: bytes, body: bytes) -> int:
        self.sock.sendall(head + body)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        header, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buf) < length:
            self.buf += self.sock.recv(65536)
        self.buf = self.buf[length:]
        return status


def raw_ours(origin: str, key: str) -> Callable[[], Callable[[bytes], bool]]:
    def make() -> Callable[[bytes], bool]:
        conn = RawConnection(origin)

        def send(body: bytes) -> bool:
            payload = multipart(body)
            head = (
                f"POST /v1/files HTTP/1.1\r\nHost: {conn.host}\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            return conn.request(head, payload) == 201

        return send

    return make


def raw_presigned(urls: list[str]) -> Callable[[], Callable[[bytes], bool]]:
    it = iter(urls)
    lock = threading.Lock()

    def make() -> Callable[[bytes], bool]:
        conn: RawConnection | None = None

        def send(body: bytes) -> bool:
            nonlocal conn
            with lock:
                url = next(it)
            parts = urlsplit(url)
            if conn is None:
                conn = RawConnection(f"{parts.scheme}://{parts.netloc}")
            head = (
                f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            return conn.request(head, body) == 200

        return send

    return make


def presigned_put_urls(weed, bucket: str, n: int) -> list[str]:
    """``n`` presigned PUT URLs for new keys in ``bucket`` (created if missing)."""
    s3 = weed.client()
    try:
        s3.create_bucket(Bucket=bucket)
    except Exception:
        pass
    batch = uuid.uuid4().hex[:8]
    return [
        s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": f"small/{batch}/{i}"}, ExpiresIn=3600
        )
        for i in range(n)
    ]


def median_result(results: list[Result]) -> Result:
    return Result(
        statistics.median(r.rate for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
    )
