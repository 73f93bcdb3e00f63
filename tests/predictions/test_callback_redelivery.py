"""A callback is not lost between a job's outcome and the queuing of its delivery.

A worker that records the outcome and then dies (or cannot reach the broker) before it
queues the callback leaves the job message unacknowledged, so the job is delivered again:
that delivery, finding the prediction ended and its callback never tried, queues it. In
process, with the real broker of each stack (memory; Redis at scale), worker, runner and
SQLite store, and a real receiver on a loopback port.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.engines import ScriptedEngine
from tests.support.receiver import Receiver
from tests.support.workers import drop_namespace, redis_url
from vlmfiles.server.metadata.migrate import upgrade
from vlmfiles.server.predictions import callback_queue
from vlmfiles.server.predictions.engines import EngineSet
from vlmfiles.server.predictions.queue import QUEUE, Queue
from vlmfiles.server.predictions.store import PredictionStore, now_us
from vlmfiles.server.settings import Settings


@pytest.fixture(params=["memory", "redis"])
def settings(request: Any, tmp_path: Any) -> Iterator[Settings]:
    scale: dict[str, Any] = {}
    if request.param == "redis":
        scale = {"queue_url": redis_url(), "queue_namespace": f"vlmfiles-test-{uuid.uuid4().hex}"}
    s = Settings(
        data_dir=tmp_path,
        job_max_retries=2,
        worker_threads=1,
        allow_private_urls=True,  # the receiver is on loopback
        callback_backoff_seconds=0.05,
        **scale,
    )
    upgrade(s.resolved_database_url)
    asyncio.run(_tenant(s.resolved_database_url))
    yield s
    if s.queue_namespace and s.queue_url:
        drop_namespace(s.queue_namespace)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


async def _tenant(url: str) -> None:
    store = PredictionStore.from_url(url)
    async with store.engine.begin() as conn:
        await conn.execute(text("INSERT INTO tenants (id, name, created_us) VALUES ('t', 't', 0)"))
    await store.close()


def insert(settings: Settings, callback_url: str, **row: Any) -> str:
    pred_id = f"pred_{uuid.uuid4().hex[:12]}"

    async def go() -> None:
        store = PredictionStore.from_url(settings.resolved_database_url)
        await store.create(
            {
                "id": pred_id,
                "tenant_id": "t",
                "domain": "document.test-echo",
                "model": "vlm-1",
                "status": "enqueued",
                "created_us": now_us(),
                "inputs": [],
                "attempts": 0,
                "usage": {},
                "callback_url": callback_url,
                "callback_status": "pending",
                **row,
            }
        )
        await store.close()

    asyncio.run(go())
    return pred_id


def read(settings: Settings, pred_id: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        store = PredictionStore.from_url(settings.resolved_database_url)
        try:
            found = await store.get(None, pred_id)
            assert found is not None
            return dict(found)
        finally:
            await store.close()

    return asyncio.run(go())


def drain(queue: Queue) -> None:
    """Wait until the job and callback queues hold nothing (delayed messages included)."""
    queue.broker.join(QUEUE, timeout=60_000)
    queue.callbacks.broker.join(callback_queue.QUEUE, timeout=60_000)


def test_a_job_delivered_again_after_its_outcome_queues_the_untried_callback(settings, receiver):
    # The row as a worker leaves it when it dies right after recording the outcome.
    pred_id = insert(settings, receiver.url("/cb"), status="completed", completed_us=now_us())
    queue = Queue(settings, EngineSet([ScriptedEngine()]))
    queue.start_worker()
    try:
        queue.send(pred_id)  # the unacknowledged job message, delivered again
        (post,) = receiver.wait_for("/cb", 1)
        drain(queue)
    finally:
        queue.stop()
    assert b'"status":"completed"' in post.body
    got = read(settings, pred_id)
    assert got["callback_status"] == "delivered"
    assert len(got["callback_attempts"]) == 1
    assert len(receiver.posts("/cb")) == 1


def test_a_job_delivered_again_does_not_double_a_delivery_under_way(settings, receiver):
    # An attempt was made (and failed): its next attempt is already a delayed message.
    tried = [{"at": "2026-12-05T00:00:00Z", "status_code": 503, "error": "HTTP 503"}]
    pred_id = insert(
        settings,
        receiver.url("/cb"),
        status="completed",
        completed_us=now_us(),
        callback_attempts=tried,
    )
    queue = Queue(settings, EngineSet([ScriptedEngine()]))
    queue.start_worker()
    try:
        queue.send(pred_id)
        drain(queue)
    finally:
        queue.stop()
    assert receiver.posts("/cb") == []
    assert read(settings, pred_id)["callback_status"] == "pending"


def test_a_callback_the_broker_refused_is_queued_by_the_job_retry(settings, receiver):
    pred_id = insert(settings, receiver.url("/cb"))
    queue = Queue(settings, EngineSet([ScriptedEngine()]))
    queue.start_worker()
    try:
        ctx = queue.context.ctx
        assert ctx is not None and ctx.send_callback is not None
        send = ctx.send_callback
        calls: list[str] = []

        def refused_once(pid: str) -> None:
            calls.append(pid)
            if len(calls) == 1:
                raise ConnectionError("the broker is down")
            send(pid)

        ctx.send_callback = refused_once
        queue.send(pred_id)
        (post,) = receiver.wait_for("/cb", 1)
        drain(queue)
    finally:
        queue.stop()
    assert calls == [pred_id, pred_id]  # refused, then queued by the job's retry
    assert b'"status":"completed"' in post.body
    got = read(settings, pred_id)
    assert got["status"] == "completed" and got["attempts"] == 1  # the job ran once
    assert got["callback_status"] == "delivered"
    assert len(receiver.posts("/cb")) == 1
