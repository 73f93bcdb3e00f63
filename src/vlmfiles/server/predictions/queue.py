"""The job queue, on Dramatiq: why this library is in docs/predictions.md.

Embedded (no ``queue_url``): Dramatiq's in-memory broker, its worker threads inside the
``vlmfiles serve`` process; the prediction rows are the durable record, and the jobs they
say are unfinished are sent again at start (``resend_unfinished``).

Scale (``queue_url=redis://...``): Dramatiq's Redis broker, acknowledging a message only
after its job ran (at least once); a worker silent for ``queue_heartbeat_seconds`` is taken
for dead and its messages go to another. Any number of ``vlmfiles worker`` processes.

Callback deliveries have a broker and worker of their own (``callback_queue.py``), started
and stopped with this one. A message carries only the prediction id. Retries (with exponential backoff) are
Dramatiq's ``Retries`` middleware; ``TimeLimit`` is a backstop behind the runner's own
limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import AsyncIO, Middleware

from ..metadata.store import open_metadata_store
from ..settings import Settings
from ..storage import open_blob_store
from .broker import open_broker
from .callback_queue import Callbacks
from .engines import EngineSet
from .fetch import Fetcher
from .runner import JobContext
from .store import PredictionStore

log = logging.getLogger("vlmfiles.predictions")

QUEUE = "predictions"
ACTOR = "run_prediction"
GAVE_UP = "prediction_gave_up"  # Dramatiq's on_retry_exhausted target
MIN_BACKOFF_MS = 1000
MAX_BACKOFF_MS = 30_000
BACKSTOP_MS = 60_000  # TimeLimit past the runner's own limit: only if the loop is stuck
STOP_TIMEOUT_MS = 10_000  # at shutdown; a job still running then is sent again at the next start


async def open_context(settings: Settings, engines: EngineSet | None = None) -> JobContext:
    url = settings.resolved_database_url
    return JobContext(
        settings=settings,
        store=PredictionStore.from_url(url, settings.worker_threads + 1),
        fetcher=Fetcher(
            files=open_metadata_store(url, pool_size=settings.worker_threads + 1),
            blobs=open_blob_store(settings.resolved_storage_url),
            max_bytes=settings.max_input_bytes,
            timeout=settings.url_fetch_timeout_seconds,
            allow_private=settings.allow_private_urls,
        ),
        engines=engines or EngineSet.from_settings(settings),
    )


async def close_context(ctx: JobContext) -> None:
    await ctx.store.close()
    await ctx.fetcher.files.close()
    ctx.fetcher.blobs.close()


class _Context(Middleware):
    """Opens the job context on the worker's event loop at boot, closes it at shutdown.

    Opened before the boot (after AsyncIO's loop starts: it is added first): the worker's
    consumers start fetching messages before ``after_worker_boot``, and a job run with no
    context would spend one of its retries on nothing.
    """

    def __init__(self, settings: Settings, engines: EngineSet | None) -> None:
        self.settings = settings
        self.engines = engines
        self.ctx: JobContext | None = None
        self.on_finished: Callable[[str], None] | None = None
        self.send_callback: Callable[[str], None] | None = None

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        loop = get_event_loop_thread()
        assert loop is not None
        self.ctx = loop.run_coroutine(open_context(self.settings, self.engines))
        self.ctx.on_finished = self.on_finished
        self.ctx.send_callback = self.send_callback

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        loop = get_event_loop_thread()
        if self.ctx is not None and loop is not None:
            loop.run_coroutine(close_context(self.ctx))
            self.ctx = None


class Queue:
    """The broker of one process and the actor it sends to (and, in a worker, runs)."""

    def __init__(self, settings: Settings, engines: EngineSet | None = None) -> None:
        self.settings = settings
        broker = open_broker(settings)
        self.context = _Context(settings, engines)
        self.callbacks = Callbacks(settings)
        self.context.send_callback = self.callbacks.send
        broker.add_middleware(AsyncIO())
        broker.add_middleware(self.context)
        self.broker = broker
        self.worker: dramatiq.Worker | None = None

        async def run_prediction(pred_id: str) -> None:
            assert self.context.ctx is not None, "the job context opens at worker boot"
            await self.context.ctx.run(pred_id)

        self.actor: Any = dramatiq.actor(
            actor_name=ACTOR,
            queue_name=QUEUE,
            broker=broker,
            max_retries=settings.job_max_retries,
            min_backoff=MIN_BACKOFF_MS,
            max_backoff=MAX_BACKOFF_MS,
            time_limit=int(settings.job_time_limit_seconds * 1000) + BACKSTOP_MS,
            on_retry_exhausted=GAVE_UP,
        )(run_prediction)

        async def prediction_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
            assert self.context.ctx is not None, "the job context opens at worker boot"
            deliveries = int(retry_info.get("retries") or 0) + 1  # the retries, and the first
            await self.context.ctx.give_up(message["args"][0], deliveries)

        # Retried itself (with backoff) while the fault lasts, e.g. the database is down.
        self.gave_up: Any = dramatiq.actor(
            actor_name=GAVE_UP,
            queue_name=QUEUE,
            broker=broker,
            max_retries=20,
            min_backoff=MIN_BACKOFF_MS,
            max_backoff=MAX_BACKOFF_MS,
        )(prediction_gave_up)

    @property
    def in_memory(self) -> bool:
        return not self.settings.queue_url

    def send(self, pred_id: str) -> None:
        """Blocking (a Redis round trip): call it from a thread in async code."""
        self.actor.send(pred_id)

    def start_worker(self) -> None:
        self.worker = dramatiq.Worker(
            self.broker, worker_threads=self.settings.worker_threads, worker_timeout=100
        )
        self.worker.start()
        self.callbacks.start_worker()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(timeout=STOP_TIMEOUT_MS)
            self.worker = None
        self.callbacks.stop()
        self.broker.close()
