"""One job: claim it, fetch its inputs, run the engine, record the outcome once.

Outcomes:
- the engine answered: ``completed`` with the response and its usage;
- ``EngineError`` (a refused input, a deleted file, a private URL...): ``failed`` with the
  reason, at once;
- past ``job_time_limit_seconds``: ``failed`` ("ran past its time limit");
- a transient fault (network, 5xx, the database or blob store, a model endpoint down): raised, so the broker
  retries with backoff; the last attempt ``failed`` with the reason instead;
- any other exception (an engine bug): ``failed`` with its type and message.

The outcome is one conditional update (``PredictionStore.finish``): a job redelivered
after its worker died may run twice, and completes once.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import sqlalchemy.exc

from ..engines.base import EngineError, EngineResult, JobTimeout, Limits, ModelUnavailable
from ..settings import Settings
from .engines import EngineSet
from .fetch import Fetcher, TransientInputError
from .store import PredictionStore

log = logging.getLogger("vlmfiles.predictions")

TRANSIENT = (
    TransientInputError,
    ModelUnavailable,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
)


@dataclass
class JobContext:
    """What a worker process keeps between jobs."""

    settings: Settings
    store: PredictionStore
    fetcher: Fetcher
    engines: EngineSet
    # Called with the id once a job ended here (the embedded server wakes its waiters).
    on_finished: Callable[[str], None] | None = None
    # Sends a callback delivery (callback_queue.Callbacks.send): blocking on Redis.
    send_callback: Callable[[str], None] | None = None

    async def run(self, pred_id: str) -> None:
        try:
            await self._attempt(pred_id)
        finally:
            if self.on_finished is not None:
                self.on_finished(pred_id)

    async def _attempt(self, pred_id: str) -> None:
        if not await self.store.claim(pred_id):
            # The delivery that ended it may have died before queuing its callback.
            if await self._queue_callback(pred_id, untried=True):
                log.info("prediction %s already ended; its pending callback queued", pred_id)
            else:
                log.info("prediction %s already ended; delivery ignored", pred_id)
            return
        job = await self.store.job(pred_id)
        if job is None:
            return
        started = time.monotonic()
        limit = self.settings.job_time_limit_seconds
        result: EngineResult | None = None
        try:
            with anyio.move_on_after(limit):
                result = await self._run(job, started + limit)
            if result is None:
                raise JobTimeout(
                    f"the job ran past its time limit of {limit:g} s "
                    "(VLMFILES_JOB_TIME_LIMIT_SECONDS)"
                )
        except EngineError as exc:
            await self._fail(pred_id, str(exc), started)
        except TRANSIENT as exc:
            if job["attempts"] > self.settings.job_max_retries:
                await self._fail(
                    pred_id, f"gave up after {job['attempts']} attempts: {exc}", started
                )
                return
            log.warning("prediction %s attempt %s: %s; retrying", pred_id, job["attempts"], exc)
            raise
        except Exception as exc:
            log.exception("prediction %s: the engine crashed", pred_id)
            await self._fail(pred_id, f"the engine crashed: {type(exc).__name__}: {exc}", started)
        else:
            usage = {
                "elements_processed": result.elements,
                "element_type": result.element_type,
                "credits_used": 0,
                "steps": 1,
                "duration_seconds": int(time.monotonic() - started),
                **(result.tokens or {}),
            }
            won = await self._finish(
                pred_id,
                status="completed",
                response=result.response,
                usage=usage,
                engine=result.engine,
            )
            if not won:
                log.info("prediction %s was completed by another delivery", pred_id)

    async def _run(self, job: Any, deadline: float) -> EngineResult:
        engine = self.engines.for_domain(job["domain"], job["config"])
        if engine is None:
            raise EngineError(
                f"no engine of this worker serves {job['domain']!r}; it serves "
                f"{self.engines.listing()}"
            )
        limits = Limits(
            max_pages=self.settings.max_pages,
            max_pixels=self.settings.max_pixels,
            deadline=deadline,
        )
        with tempfile.TemporaryDirectory(prefix="vlmfiles-job-") as folder:
            inputs = await self.fetcher.materialize(job["tenant_id"], job["inputs"], Path(folder))
            # The engine checks the deadline between pages; a thread cannot be stopped, so
            # the job ends at the limit even if the engine does not, and its thread is let go.
            return await anyio.to_thread.run_sync(
                engine.run,
                job["domain"],
                inputs,
                job["config"] or {},
                limits,
                abandon_on_cancel=True,
            )

    async def _finish(self, pred_id: str, **outcome: Any) -> bool:
        """``store.finish``, then, for the delivery that won it, the callback if any.

        Queuing the callback raises (the broker is down): the job message is then retried,
        and its redelivery queues the callback (``_queue_callback``); the outcome stands.
        """
        won = await self.store.finish(pred_id, **outcome)
        if won:
            await self._queue_callback(pred_id)
        return won

    async def _queue_callback(self, pred_id: str, *, untried: bool = False) -> bool:
        """Queue the delivery of an ended prediction's callback if still pending."""
        if self.send_callback is None or not await self.store.callback_pending(
            pred_id, untried=untried
        ):
            return False
        await anyio.to_thread.run_sync(self.send_callback, pred_id)
        return True

    async def give_up(self, pred_id: str, deliveries: int) -> None:
        """The broker ran out of retries on faults the job could not record (one before
        the claim: the database, a worker without its context): fail it, not leave it running."""
        reason = (
            f"gave up after {deliveries} deliveries of the job, each ending in a transient "
            "fault before it could record an outcome (the worker's log has each)"
        )
        await self._fail(pred_id, reason, time.monotonic())

    async def _fail(self, pred_id: str, reason: str, started: float) -> None:
        usage = {"message": reason, "duration_seconds": int(time.monotonic() - started)}
        await self._finish(
            pred_id, status="failed", response=None, usage=usage, engine=None, error=reason
        )
