"""The prediction row's state changes, on both databases: a job is claimed while unfinished
and its outcome recorded once, whatever the number of deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.conftest import STACKS
from tests.support.postgres import fresh_database
from vlmfiles.server.metadata.migrate import upgrade
from vlmfiles.server.predictions.store import PredictionStore, new_prediction_id, now_us


@pytest.fixture(params=STACKS)
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "embedded":
        url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
        upgrade(url)
        yield url
        return
    with fresh_database() as url:
        upgrade(url)
        yield url


def _run(database_url: str, scenario) -> object:
    async def go() -> object:
        store = PredictionStore.from_url(database_url)
        try:
            async with store.engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO tenants (id, name, created_us) VALUES ('t1', 't1', 0)")
                )
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(go())


def _row(pred_id: str, created: int) -> dict:
    return {
        "id": pred_id,
        "tenant_id": "t1",
        "domain": "document.markdown",
        "model": "vlm-1",
        "status": "enqueued",
        "created_us": created,
        "inputs": [{"kind": "file", "file_id": "file_x"}],
        "attempts": 0,
        "usage": {},
    }


def test_an_outcome_is_recorded_once(database_url):
    async def scenario(store: PredictionStore) -> None:
        pid = new_prediction_id()
        await store.create(_row(pid, now_us()))
        assert await store.claim(pid)
        assert await store.claim(pid)  # redelivered while running (its worker died)
        first = await store.finish(
            pid, status="completed", response={"a": 1}, usage={}, engine="e1"
        )
        second = await store.finish(
            pid, status="completed", response={"a": 2}, usage={}, engine="e2"
        )
        assert (first, second) == (True, False)
        assert not await store.claim(pid)  # a delivery after the end does nothing
        row = await store.get("t1", pid)
        assert row is not None
        assert (row["status"], row["response"], row["engine"], row["attempts"]) == (
            "completed",
            {"a": 1},
            "e1",
            2,
        )
        assert await store.get("another-tenant", pid) is None
        assert await store.unfinished() == []

    _run(database_url, scenario)


def test_listing_is_newest_first_and_unfinished_oldest_first(database_url):
    async def scenario(store: PredictionStore) -> None:
        ids = [new_prediction_id() for _ in range(3)]
        for n, pid in enumerate(ids):
            await store.create(_row(pid, 1000 + n))
        assert [r["id"] for r in await store.page("t1", 0, 10)] == ids[::-1]
        assert [r["id"] for r in await store.page("t1", 1, 1)] == [ids[1]]
        await store.finish(ids[1], status="failed", response=None, usage={}, engine=None)
        assert await store.unfinished() == [ids[0], ids[2]]

    _run(database_url, scenario)
