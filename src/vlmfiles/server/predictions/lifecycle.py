"""Starting and stopping the predictions side of a ``vlmfiles serve`` process."""

from __future__ import annotations

import logging

import anyio

from ..service import FileService
from .engines import EngineSet
from .queue import Queue
from .service import PredictionService
from .store import PredictionStore

log = logging.getLogger("vlmfiles.predictions")


async def open_predictions(service: FileService) -> PredictionService:
    """Embedded (no queue URL): the worker threads start here, and the jobs the database
    says are unfinished are sent again (the in-memory broker lost them with the last run)."""
    settings = service.settings
    engines = await anyio.to_thread.run_sync(EngineSet.from_settings, settings)
    queue = Queue(settings, engines)
    # The file store's engine and pool: a server process keeps to database_pool_size.
    store = PredictionStore(service.store.engine)
    predictions = PredictionService(files=service, store=store, queue=queue, engines=engines)
    if queue.in_memory:
        predictions.listen()
        await anyio.to_thread.run_sync(queue.start_worker)
        resent = await predictions.resend_unfinished()
        if resent:
            log.info("sent %s unfinished predictions to the workers again", resent)
        resent = await predictions.resend_callbacks()
        if resent:
            log.info("sent %s pending callback deliveries again", resent)
    return predictions


async def close_predictions(predictions: PredictionService) -> None:
    await anyio.to_thread.run_sync(predictions.queue.stop)
    await predictions.store.close()
