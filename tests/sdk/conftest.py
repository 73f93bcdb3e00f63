"""SDK fixtures: a fresh tenant per test, and the same tests for ``Client`` and ``AsyncClient``.

The ``client`` fixture is parametrized over "sync" and "async"; tests call the SDK through
``aw(...)``, which awaits what the async client returns and passes the sync client's
results through, so one test body checks both."""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import vlmfiles


async def aw(value: Any) -> Any:
    """``await value`` if it is awaitable (async client), else ``value`` (sync client)."""
    if inspect.isawaitable(value):
        return await value
    return value


def write(path: str | Path, content: bytes | None = None) -> Path:
    """Write ``path`` with ``content`` (default: unique bytes, so no two files dedupe)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if content is not None else b"%PDF-1.4\n" + os.urandom(256))
    return path


@pytest.fixture
def key(server) -> str:
    """An API key of a new tenant: its file list starts empty."""
    return server.new_key(f"sdk-{uuid.uuid4().hex[:10]}")


@pytest_asyncio.fixture(params=["sync", "async"], loop_scope="function")
async def client(request, server, key) -> AsyncIterator[vlmfiles.Client | vlmfiles.AsyncClient]:
    if request.param == "sync":
        with vlmfiles.Client(api_key=key, base_url=server.base_url) as c:
            yield c
    else:
        async with vlmfiles.AsyncClient(api_key=key, base_url=server.base_url) as c:
            yield c


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory, so the spec's relative paths ("invoice.jpg") work."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
