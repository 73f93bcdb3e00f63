"""Backend faults: a full disk answers 507 and recovers; a database that goes away answers
503 with Retry-After and the service comes back by itself."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.server.helpers import assert_error, unique, upload
from tests.support.server import ServerProcess


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 24 MiB tmpfs as the data dir (the tests run as root, like CI)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_is_507_leaves_no_temp_and_recovers(tiny_disk):
    srv = ServerProcess(data_dir=tiny_disk / "data").start()
    try:
        with srv.client() as c:
            small = unique(100_000)
            kept = upload(c, small).json()
            r = upload(c, unique(40 * 1024 * 1024))
            assert_error(r, 507, "full")
            assert srv.staging() == []
            # Old files stay readable; small uploads still work while there is room.
            assert c.get(f"/files/{kept['id']}/content").content == small
            filler = [upload(c, unique(6 * 1024 * 1024)).json() for _ in range(2)]
            assert all("id" in f for f in filler)
            for f in filler:
                assert c.delete(f"/files/{f['id']}").status_code == 200
            assert upload(c, unique(8 * 1024 * 1024)).status_code == 201
    finally:
        srv.stop()


def _pg(url: str, sql: str) -> None:
    import asyncio

    from tests.support.postgres import _execute, admin_url

    asyncio.run(_execute(admin_url(), sql.format(db=url.rsplit("/", 1)[1])))


def _cut_connections(url: str) -> None:
    _pg(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")


def _backends(url: str) -> set[int]:
    """The PostgreSQL backends connected to the test database (the server's pool)."""
    from tests.support.postgres import fetch

    sql = (
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return {row["pid"] for row in fetch(url, sql)}


@contextlib.contextmanager
def _server_on_postgres(tmp_path: Path, **env: str) -> Iterator[tuple[ServerProcess, str]]:
    from tests.support.postgres import fresh_database

    with fresh_database() as url:
        srv = ServerProcess(data_dir=tmp_path / "data", env={"VLMFILES_DATABASE_URL": url, **env})
        srv.cli("db", "upgrade")
        srv.start()
        try:
            yield srv, url
        finally:
            srv.stop()
            _pg(url, 'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')


def test_postgres_connections_cut_while_the_server_is_idle_are_replaced_unseen(tmp_path):
    """A database restart while the server idles leaves its pooled connections dead: the
    pool pings a connection idle over IDLE_PING_SECONDS before use, and replaces it."""
    from vlmfiles.server.metadata.engines import IDLE_PING_SECONDS

    with _server_on_postgres(tmp_path) as (srv, url), srv.client() as c:
        f = upload(c, unique()).json()
        _cut_connections(url)
        time.sleep(IDLE_PING_SECONDS + 0.5)
        assert c.get(f"/files/{f['id']}").status_code == 200
        assert upload(c, unique()).status_code == 201


def test_postgres_connections_cut_while_in_use_cost_one_503_each_then_are_replaced(tmp_path):
    """A database restart while the server is busy (its connections used within the last
    second, so not pinged): a request on a dead pooled connection is a 503 (never a 500),
    that connection is dropped, and the pool opens new ones. Small uploads and API-key
    lookups run on asyncpg directly (metadata/postgres.py); a dead connection handed back to the
    pool there would fail request after request."""
    with _server_on_postgres(tmp_path, VLMFILES_DATABASE_POOL_SIZE="3") as (srv, url):
        clients = [srv.client() for _ in range(3)]
        try:
            with ThreadPoolExecutor(3) as pool:  # three requests at once: three connections
                kept = list(pool.map(lambda c: upload(c, unique()).json(), clients))
            before = _backends(url)
            _cut_connections(url)
            c = clients[0]
            statuses = []
            for f in kept * 5:  # an upload and a read (its key looked up), by turns
                statuses += [
                    upload(c, unique()).status_code,
                    c.get(f"/files/{f['id']}").status_code,
                ]
            assert set(statuses) <= {200, 201, 503}, statuses
            assert 1 <= statuses.count(503) <= 3, statuses  # one per dead connection at most
            assert statuses[-12:] == [201, 200] * 6, statuses
            assert _backends(url).isdisjoint(before)
        finally:
            for c in clients:
                c.close()


def test_postgres_connections_are_bounded_and_kept_under_load(tmp_path):
    """More requests in flight than the pool has connections: they wait their turn; the
    server opens at most ``database_pool_size`` and keeps them. (With overflow connections,
    closed at every return, each request past the pool's base started a new PostgreSQL
    backend: 64 clients got half the uploads/s of 8.)"""

    def uploads(srv: ServerProcess) -> None:
        def client(_: int) -> None:
            with srv.client() as c:
                for _ in range(5):
                    assert upload(c, unique(1000)).status_code == 201

        with ThreadPoolExecutor(12) as pool:
            list(pool.map(client, range(12)))

    with _server_on_postgres(tmp_path, VLMFILES_DATABASE_POOL_SIZE="3") as (srv, url):
        uploads(srv)
        first = _backends(url)
        assert 1 <= len(first) <= 3
        uploads(srv)
        assert _backends(url) == first


def test_postgres_down_is_503_with_retry_after_then_recovers(tmp_path):
    with _server_on_postgres(tmp_path) as (srv, url), srv.client() as c:
        f = upload(c, unique()).json()
        # Take the database away: refuse new connections, cut the open ones.
        _pg(url, 'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        _cut_connections(url)
        for call in (
            lambda: c.get(f"/files/{f['id']}"),
            lambda: upload(c, unique()),
            lambda: c.get("/files"),
        ):
            r = call()
            err = assert_error(r, 503, "unavailable")
            assert r.headers["retry-after"] == "5" and err["type"] == "service_unavailable_error"
        assert srv.staging() == []
        # It comes back by itself once the database does.
        _pg(url, 'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        assert c.get(f"/files/{f['id']}").status_code == 200
        assert upload(c, unique()).status_code == 201
        assert len(c.get("/files").json()) == 2


def test_object_store_down_is_503_then_recovers(tmp_path):
    """SeaweedFS stopped under a running scale-stack server: 503 with Retry-After, nothing
    half-written, and service back by itself once the store is back on its address."""
    from tests.support.postgres import fresh_database
    from tests.support.seaweed import start_seaweed
    from tests.support.server import scale_env

    weed = start_seaweed(tmp_path / "weed")
    with fresh_database() as url:
        env = scale_env(weed, url, "faults")
        srv = ServerProcess(data_dir=tmp_path / "data", env=env)
        srv.cli("db", "upgrade")
        srv.start()
        try:
            with srv.client() as c:
                # Above inline_max_bytes: these bytes live in the object store.
                content = unique(200_000)
                f = upload(c, content).json()
                weed.stop()
                for call in (
                    lambda: c.get(f"/files/{f['id']}/content"),
                    lambda: upload(c, unique(100_000)),
                ):
                    r = call()
                    assert_error(r, 503, "unavailable")
                    assert r.headers["retry-after"] == "5"
                # Metadata still answers without the store, and small files (kept in the
                # database) still go up and come back.
                assert c.get(f"/files/{f['id']}").status_code == 200
                tiny = unique(2000)
                t = upload(c, tiny)
                assert t.status_code == 201
                assert c.get(f"/files/{t.json()['id']}/content").content == tiny
                assert [x["id"] for x in c.get("/files").json()] == [t.json()["id"], f["id"]]
                weed = start_seaweed(tmp_path / "weed", ports=weed.ports)
                assert c.get(f"/files/{f['id']}/content").content == content
                assert upload(c, unique(100_000)).status_code == 201
                assert srv.staging() == []
        finally:
            srv.stop()
            weed.stop()
