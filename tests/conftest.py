"""Shared fixtures: a real server process per test session (and per stack)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.postgres import fresh_database
from tests.support.server import ServerProcess, scale_env


@pytest.fixture(scope="session", autouse=True)
def _user_data_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The per-user default data dir points into the test run, never at the real one: a
    command that a test runs without --data-dir must not touch the user's files."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data-home"))


STACKS = [s for s in os.environ.get("VLMFILES_TEST_STACKS", "embedded,scale").split(",") if s]


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory):
    """A real SeaweedFS (master, volume, filer, S3) on free loopback ports."""
    from tests.support.seaweed import start_seaweed

    handle = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    yield handle
    handle.stop()


def _start(request, tmp_path_factory, name: str, env: dict[str, str]) -> Iterator[ServerProcess]:
    stack = request.param
    data_dir = tmp_path_factory.mktemp(f"{name}-{stack}") / "data"
    if stack == "embedded":
        srv = ServerProcess(data_dir=data_dir, env=env)
        srv.start()
        yield srv
        srv.stop()
        return
    with fresh_database() as url:
        if stack == "postgres":  # PostgreSQL + local disk (a shared filesystem in production)
            extra = {"VLMFILES_DATABASE_URL": url}
        else:
            seaweed = request.getfixturevalue("seaweed")
            extra = scale_env(seaweed, url, f"{name}-{uuid.uuid4().hex[:8]}")
        srv = ServerProcess(data_dir=data_dir, env={**env, **extra})
        srv.cli("db", "upgrade")
        srv.start()
        yield srv
        srv.stop()


@pytest.fixture(scope="session", params=STACKS)
def server(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A `vlmfiles serve` per stack: embedded (SQLite + local disk) and scale (PostgreSQL +
    SeaweedFS S3), default limits.

    Attributes: base_url (ends in /v1), api_key, data_dir, new_key(tenant), client(key),
    blob_store(), blob_keys(), staging()."""
    yield from _start(request, tmp_path_factory, "server", {})


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    """An httpx client on the server's /v1 with a fresh tenant's key (tests stay isolated)."""
    key = server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    with server.client(key) as c:
        yield c


SMALL_LIMIT = 1024 * 1024
SMALL_JSON_LIMIT = 64 * 1024  # small_server's max_json_document_size


@pytest.fixture(scope="session", params=STACKS)
def small_server(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server per stack whose file size limit is SMALL_LIMIT (1 MiB), for 413 tests, and
    largest JSON value SMALL_JSON_LIMIT."""
    env = {
        "VLMFILES_MAX_FILE_SIZE": str(SMALL_LIMIT),
        "VLMFILES_MAX_JSON_DOCUMENT_SIZE": str(SMALL_JSON_LIMIT),
    }
    yield from _start(request, tmp_path_factory, "small", env)
