"""Small helpers shared by the server tests."""

from __future__ import annotations

import hashlib
import io
import os

import httpx

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def png(extra: bytes = b"") -> bytes:
    """A valid 1x1 PNG; ``extra`` trailing bytes make it unique."""
    return PNG + extra


def unique(n: int = 64) -> bytes:
    return os.urandom(n)


def upload(
    api: httpx.Client, content: bytes, filename: str = "x.bin", purpose: str | None = None
) -> httpx.Response:
    params = {"purpose": purpose} if purpose else {}
    return api.post("/files", params=params, files={"file": (filename, io.BytesIO(content))})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def assert_error(resp: httpx.Response, status: int, *words: str) -> dict:
    """The response is the one error shape, with ``status``, and its message has ``words``."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "id"}
    assert body["error"]["id"] == resp.headers["x-request-id"]
    for word in words:
        assert word.lower() in body["error"]["message"].lower(), body["error"]["message"]
    return body["error"]
