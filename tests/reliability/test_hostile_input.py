"""Hostile requests: each gets a clear 4xx (or a safe result), stores nothing, leaves no
staging, and is answered promptly (the client's timeout bounds the CPU it may burn)."""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.server.helpers import unique


def _raw(server, request: bytes, timeout: float = 15) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _key(server) -> str:
    return server.new_key(f"h-{uuid.uuid4().hex[:8]}")


def test_transfer_encoding_with_content_length_is_refused(server):
    key = _key(server)
    body = b"5\r\nhello\r\n0\r\n\r\n"
    answer = _raw(
        server,
        b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + key.encode()
        + b"\r\nContent-Type: multipart/form-data; boundary=abc\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + body,
    )
    assert answer.split(b" ", 2)[1] == b"400"
    assert server.staging() == []


def test_a_pathological_content_type_is_answered_promptly(server):
    key = _key(server)
    nasty = "multipart/form-data; " + 'a="\\"; ' * 5000 + "boundary=" + "-" * 190
    with server.client(key, timeout=15) as c:
        r = c.post("/files", content=b"x", headers={"Content-Type": nasty})
        assert 400 <= r.status_code < 500
        long_boundary = "multipart/form-data; boundary=" + "b" * 5000
        r = c.post("/files", content=b"x", headers={"Content-Type": long_boundary})
        assert r.status_code == 400 and "boundary" in r.json()["error"]["message"]


def _multipart(disposition: bytes, content: bytes) -> bytes:
    return (
        b"--abc\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + content + b"\r\n--abc--\r\n"
    )


@pytest.mark.parametrize(
    "disposition, expected",
    [
        # RFC 7578 forbids filename* in form-data: the plain filename is the name.
        (
            b'form-data; name="file"; filename="plain.txt"; filename*=UTF-8\'\'evil%2F..%2Fx.exe',
            "plain.txt",
        ),
        # Not UTF-8 (latin-1 bytes): stored with replacement characters, never refused.
        (b'form-data; name="file"; filename="caf\xe9.txt"', "caf\ufffd.txt"),
    ],
)
def test_filename_star_and_non_utf8_names(server, disposition, expected):
    with server.client(_key(server)) as c:
        r = c.post(
            "/files",
            content=_multipart(disposition, unique()),
            headers={"Content-Type": "multipart/form-data; boundary=abc"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["filename"] == expected


def test_lying_content_length_shorter_than_the_body(server):
    """The extra bytes are a second, malformed request on the connection: refused."""
    key = _key(server)
    part = _multipart(b'form-data; name="file"; filename="a"', b"x" * 100)
    answer = _raw(
        server,
        b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + key.encode()
        + b"\r\nContent-Type: multipart/form-data; boundary=abc\r\n"
        + b"Content-Length: 40\r\n\r\n"
        + part,
    )
    assert answer.split(b" ", 2)[1] == b"400"
    assert server.staging() == []
