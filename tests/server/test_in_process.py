"""The routes and their one error shape, in process (``httpx.ASGITransport``): no server
process, so a change to a handler is checked in well under a second. The behaviour that
depends on sockets, processes and crashes is checked against real servers elsewhere."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from tests.server.helpers import assert_error, png
from vlmfiles.server.app import create_app
from vlmfiles.server.metadata.migrate import upgrade
from vlmfiles.server.settings import Settings


@contextlib.asynccontextmanager
async def running(tmp_path, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and a client with a key. (Not a fixture: the
    lifespan's task group must end in the task that started it.)"""
    config = Settings(data_dir=tmp_path, secret_key="test-secret", **settings)
    await anyio.to_thread.run_sync(upgrade, config.resolved_database_url)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        key, _ = await app.state.service.store.create_key("in-process")
        transport = httpx.ASGITransport(app=app)
        base = config.resolved_public_url
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            client.headers["Authorization"] = f"Bearer {key}"
            client.app = app  # type: ignore[attr-defined]
            yield client


pytestmark = pytest.mark.asyncio(loop_scope="function")


async def test_every_refusal_has_the_one_error_shape(tmp_path):
    async with running(tmp_path) as app:
        assert_error(await app.get("/v1/files", headers={"Authorization": ""}), 401, "API key")
        assert_error(await app.get("/v1/files", headers={"Authorization": "Bearer nope"}), 401)
        assert_error(await app.get("/v1/nothing-here"), 404, "no route")
        assert_error(await app.get("/v1/files/file_unknown"), 404, "file_unknown")
        assert_error(await app.get("/v1/files", params={"limit": 0}), 400)
        too_many = await app.get("/v1/files", params={"limit": 1001})
        assert_error(too_many, 400, "limit", "1000")  # list_max_limit's default
        assert_error(await app.get("/v1/files/hash/xyz"), 400, "hex digits")
        empty = await app.post("/v1/files", files={"file": ("e.txt", b"")})
        assert_error(empty, 400, "empty")


async def test_upload_read_list_and_delete(tmp_path):
    async with running(tmp_path) as app:
        up = await app.post("/v1/files", files={"file": ("a.png", png(b"in-process"))})
        assert up.status_code == 201, up.text
        f = up.json()
        assert f["content_type"] == "image/png" and f["filename"] == "a.png"
        assert (await app.get(f"/v1/files/{f['id']}")).json()["sha256"] == f["sha256"]
        content = await app.get(f"/v1/files/{f['id']}/content")
        assert content.content == png(b"in-process")
        assert [x["id"] for x in (await app.get("/v1/files")).json()] == [f["id"]]
        assert (await app.delete(f"/v1/files/{f['id']}")).status_code == 200
        # The deleted file's id still places a cursor.
        assert (await app.get("/v1/files", params={"after": f["id"]})).json() == []


async def test_a_signed_url_ends_with_its_key(tmp_path):
    async with running(tmp_path) as app:
        f = (await app.post("/v1/files", files={"file": ("b.png", png(b"signed"))})).json()
        url = httpx.URL(f["url"])
        anonymous = {"Authorization": ""}
        assert (await app.get(url.path, params=url.params, headers=anonymous)).status_code == 200
        key = app.headers["Authorization"].removeprefix("Bearer ")
        assert await app.app.state.service.store.revoke_key(key) == 1
        gone = await app.get(url.path, params=url.params, headers=anonymous)
        assert_error(gone, 403, "revoked")


async def test_the_largest_page_is_the_setting(tmp_path):
    async with running(tmp_path, list_max_limit=5) as app:
        assert (await app.get("/v1/files", params={"limit": 5})).status_code == 200
        assert_error(await app.get("/v1/files", params={"limit": 6}), 400, "between 1 and 5")
