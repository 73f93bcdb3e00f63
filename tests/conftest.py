"""Shared fixtures: a real server process per test session (and per stack)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A `vlmfiles serve` on the embedded default (SQLite + local disk), default limits.

    Attributes: base_url (ends in /v1), api_key, data_dir, new_key(tenant), client(key)."""
    srv = ServerProcess(data_dir=tmp_path_factory.mktemp("server") / "data")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    """An httpx client on the server's /v1 with a fresh tenant's key (tests stay isolated)."""
    import uuid

    key = server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    with server.client(key) as c:
        yield c


SMALL_LIMIT = 1024 * 1024


@pytest.fixture(scope="session")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose file size limit is SMALL_LIMIT (1 MiB), for 413 tests."""
    srv = ServerProcess(
        data_dir=tmp_path_factory.mktemp("small") / "data",
        env={"VLMFILES_MAX_FILE_SIZE": str(SMALL_LIMIT)},
    )
    srv.start()
    yield srv
    srv.stop()
