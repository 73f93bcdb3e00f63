"""Hostile HTTP framing found by the red-team run of issue 26: a forged Host (item 8), a
bad key with ``Expect: 100-continue`` (item 10), bytes after the closing multipart boundary
(item 12). Each is answered plainly, over a raw socket, as a client would see it."""

from __future__ import annotations

import socket
import uuid

import httpx

from tests.server.helpers import unique


def _key(server) -> str:
    return server.new_key(f"x-{uuid.uuid4().hex[:8]}")


def _head_of_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_the_trailing_slash_redirect_ignores_host(server, api):
    r = httpx.get(
        server.base_url + "/files/",
        headers={"Host": "evil.example", "Authorization": api.headers["Authorization"]},
    )
    assert r.status_code in (307, 308)
    assert r.headers["location"] == "/v1/files"  # relative: never the client's Host
    r = api.get("/files/", params={"limit": "2"}, follow_redirects=True)
    assert r.status_code == 200 and r.url.path == "/v1/files" and r.url.query == b"limit=2"


def test_a_bad_key_is_refused_before_100_continue(server):
    size = 10 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
            b"Content-Type: multipart/form-data; boundary=abc\r\n"
            b"Expect: 100-continue\r\nContent-Length: " + str(size).encode() + b"\r\n\r\n"
        )
        answer = _head_of_answer(s)  # no body is sent: the client waits for 100 or an answer
    status_line, _, headers = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"connection: close" in headers.lower()


def test_a_good_key_gets_100_continue(server):
    key = _key(server)
    part = (
        b'--abc\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        + unique()
        + b"\r\n--abc--\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + key.encode()
            + b"\r\nContent-Type: multipart/form-data; boundary=abc\r\n"
            b"Expect: 100-continue\r\nContent-Length: " + str(len(part)).encode() + b"\r\n\r\n"
        )
        assert _head_of_answer(s).startswith(b"HTTP/1.1 100")
        s.sendall(part)
        assert _head_of_answer(s).startswith(b"HTTP/1.1 201")


def _with_epilogue(tail: bytes) -> bytes:
    return (
        b'--abc\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        + unique()
        + b"\r\n--abc--\r\n"
        + tail
    )


def test_bytes_after_the_closing_boundary_are_answered_not_reset(server):
    key = _key(server)
    with server.client(key) as api:
        headers = {"Content-Type": "multipart/form-data; boundary=abc"}
        r = api.post("/files", content=_with_epilogue(b"epilogue " * 1000), headers=headers)
        assert r.status_code == 201, r.text  # a short epilogue is ignored (RFC 2046)
        big = _with_epilogue(b"\0" * (10 * 1024 * 1024))
        r = api.post("/files", content=big, headers=headers)  # the 10 MiB tail
        assert r.status_code == 400 and "closing boundary" in r.json()["error"]["message"]
        streamed = api.post("/files", content=iter([big[:65536], big[65536:]]), headers=headers)
        assert streamed.status_code == 400
        assert len(api.get("/files").json()) == 1  # only the first upload was stored
    assert server.settled_staging() == []
