"""A job whose every delivery fails before it can record an outcome (here: the database
refusing the claim) ends `failed` through Dramatiq's on_retry_exhausted, not `running`
or `enqueued` for ever. In process: the real broker, worker, runner and SQLite store."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy.exc
from sqlalchemy import text

from vlmfiles.server.metadata.migrate import upgrade
from vlmfiles.server.predictions.engines import EngineSet
from vlmfiles.server.predictions.queue import Queue
from vlmfiles.server.predictions.store import PredictionStore, now_us
from vlmfiles.server.settings import Settings


def test_a_job_the_broker_gives_up_on_ends_failed_saying_why(tmp_path):
    settings = Settings(data_dir=tmp_path, job_max_retries=1, worker_threads=1)
    url = settings.resolved_database_url
    upgrade(url)

    async def setup() -> None:
        store = PredictionStore.from_url(url)
        async with store.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO tenants (id, name, created_us) VALUES ('t', 't', 0)")
            )
        await store.create(
            {
                "id": "pred_x",
                "tenant_id": "t",
                "domain": "document.markdown",
                "model": "vlm-1",
                "status": "enqueued",
                "created_us": now_us(),
                "inputs": [],
                "attempts": 0,
                "usage": {},
            }
        )
        await store.close()

    async def row() -> dict:
        store = PredictionStore.from_url(url)
        try:
            found = await store.get(None, "pred_x")
            assert found is not None
            return dict(found)
        finally:
            await store.close()

    asyncio.run(setup())
    queue = Queue(settings, EngineSet([]))
    queue.start_worker()
    try:
        ctx = queue.context.ctx
        assert ctx is not None
        calls = []

        async def claim_fails(pred_id: str) -> bool:
            calls.append(pred_id)
            raise sqlalchemy.exc.OperationalError("UPDATE predictions", {}, Exception("db down"))

        ctx.store.claim = claim_fails  # type: ignore[method-assign]
        queue.send("pred_x")
        deadline = time.monotonic() + 60
        while (got := asyncio.run(row()))["status"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        queue.stop()
    assert got["status"] == "failed", got
    assert len(calls) == 2  # the first delivery and job_max_retries=1 retry
    assert got["error"].startswith("gave up after 2 deliveries of the job")
    assert got["usage"]["message"] == got["error"]
