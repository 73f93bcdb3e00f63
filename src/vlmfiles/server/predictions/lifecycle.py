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

PREDICTIONS_POOL_SIZE = 4


async def open_predictions(service: FileService) -> PredictionService:
    """Embedded (no queue URL): the worker threads start here, and the jobs the database
    says are unfinished are sent again (the in-memory broker lost them with the last run)."""
    settings = service.settings
    engines = await anyio.to_thread.run_sync(EngineSet.from_specs, settings.prediction_engines)
    queue = Queue(settings, engines)
    # Its own small pool: short statements, next to the file store's pool (database_pool_size).
    store = PredictionStore.from_url(settings.resolved_database_url, PREDICTIONS_POOL_SIZE)
    predictions = PredictionService(files=service, store=store, queue=queue, engines=engines)
    if queue.in_memory:
        predictions.listen()
        await anyio.to_thread.run_sync(queue.start_worker)
        resent = await predictions.resend_unfinished()
        if resent:
            log.info("sent %s unfinished predictions to the workers again", resent)
    return predictions


async def close_predictions(predictions: PredictionService) -> None:
    await anyio.to_thread.run_sync(predictions.queue.stop)
    await predictions.store.close()
