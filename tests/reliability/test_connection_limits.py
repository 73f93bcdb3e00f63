"""What one client may hold of a server before it sends a request (issue 26, items 6/7):
header size and count (431), the time headers may take (408), idle connections (closed),
and the connection limit (503): every answer in the API's error shape."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.support.server import ServerProcess

LIMITS = {
    "VLMFILES_MAX_HEADER_BYTES": "8192",
    "VLMFILES_MAX_HEADER_COUNT": "20",
    "VLMFILES_HEADER_TIMEOUT_SECONDS": "1",
    "VLMFILES_IDLE_TIMEOUT_SECONDS": "1",
    "VLMFILES_BODY_TIMEOUT_SECONDS": "3",
    "VLMFILES_MAX_CONNECTIONS": "4",
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    srv = ServerProcess(data_dir=tmp_path_factory.mktemp("limited") / "d", env=LIMITS)
    srv.start()
    yield srv
    srv.stop()


def _connect(srv: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=15)


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the answer, read until the server closes."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _error(body: bytes) -> str:
    err = json.loads(body)["error"]
    assert set(err) == {"message", "type", "id"}
    return err["message"]


def _get(extra: bytes = b"") -> bytes:
    return b"GET /v1/files HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * 10_000 + b"\r\n\r\n",  # one field over the size
        b"".join(b"X-%d: 1\r\n" % i for i in range(30)) + b"\r\n",  # too many fields
        b"X-Unended: " + b"a" * 100_000,  # a field httptools is still gathering
        b"".join(b"X-%d: %s\r\n" % (i, b"b" * 900) for i in range(12)),  # many, unended
    ],
    ids=["big-field", "many-fields", "unended-field", "unended-headers"],
)
def test_headers_over_the_limits_get_431(limited, headers):
    with _connect(limited) as s:
        s.sendall(_get(headers))
        status, head, body = _answer(s)
    assert status == 431 and head["content-type"] == "application/json"
    assert "8192 bytes" in _error(body) and "20 fields" in _error(body)


def test_headers_within_the_limits_are_served(limited):
    headers = {f"X-{i}": "v" * 300 for i in range(15)}
    r = httpx.get(limited.origin + "/healthz", headers=headers)
    assert r.status_code == 200


def test_slow_headers_get_408_and_the_connection_closed(limited):
    with _connect(limited) as s:
        s.sendall(b"GET /v1/files HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        status, _, body = _answer(s)
    assert status == 408 and "header_timeout_seconds" in _error(body)


def test_idle_connections_are_closed(limited):
    with _connect(limited) as fresh, _connect(limited) as kept:
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            answer += kept.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        assert fresh.recv(1) == b""  # closed by the server, nothing sent
        assert kept.recv(1) == b""


def test_a_body_that_stops_gets_408_and_nothing_is_stored(limited):
    with _connect(limited) as s:
        s.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + limited.api_key.encode()
            + b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; "
            b'name="file"; filename="a"\r\n\r\n' + b"x" * 2000
        )  # and then nothing
        status, _, body = _answer(s)
    assert status == 408 and "body_timeout_seconds" in _error(body)
    assert limited.settled_staging() == []
    with limited.client() as c:
        assert c.get("/files").json() == []


def test_a_request_that_does_not_parse_gets_400_in_the_error_shape(limited):
    with _connect(limited) as s:
        s.sendall(b"GET /v1/files HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        status, _, body = _answer(s)
    assert status == 400 and "Invalid HTTP request" in _error(body)


def test_a_body_that_stops_parsing_mid_upload_gets_400_and_nothing_is_stored(limited):
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n' + b"x" * 500
    with _connect(limited) as s:
        s.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + limited.api_key.encode()
            + b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(part) + part + b"\r\n"
        )
        s.sendall(b"not a chunk size\r\n")
        status, _, body = _answer(s)
    assert status == 400 and "Invalid HTTP request" in _error(body)
    assert limited.settled_staging() == []


def test_past_max_connections_the_503_is_in_the_error_shape(limited):
    held = []
    try:
        for _ in range(4):  # connections busy sending an upload's body
            s = _connect(limited)
            s.sendall(
                b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + limited.api_key.encode()
                + b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 100000\r\n\r\n--b\r\n"
            )
            held.append(s)
        with _connect(limited) as s:
            s.sendall(_get(b"\r\n"))
            status, head, body = _answer(s)
        assert status == 503 and head["retry-after"] == "1"
        assert "max_connections" in _error(body)
    finally:
        for s in held:
            s.close()
