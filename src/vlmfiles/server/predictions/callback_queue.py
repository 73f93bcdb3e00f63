"""Callback deliveries on a Dramatiq broker and worker of their own, so a slow receiver
holds a delivery thread (``callback_threads``), never a job slot.

A message carries the prediction id; one message is one attempt. The attempts so far are
on the prediction row (``callback_attempts``), so the next attempt is a message sent with a
delay (``callback_backoff_seconds``, doubling) and the last one records ``failed``.
Embedded, the deliveries the database says are pending are sent again at start
(``resend``), like unfinished jobs.

The actor is synchronous (one blocking POST, ``callbacks.post``); its database calls run
on an event loop thread this class owns, apart from the job worker's.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import dramatiq
import orjson
from dramatiq.asyncio import EventLoopThread
from dramatiq.middleware import Middleware

from ..settings import Settings
from .broker import open_broker
from .callbacks import post, server_secret, signature, tenant_secret
from .store import FINAL, PredictionStore, now_us
from .wire import iso, prediction_json

log = logging.getLogger("vlmfiles.predictions.callbacks")

QUEUE = "callbacks"
ACTOR = "deliver_callback"
MAX_BACKOFF_SECONDS = 3600.0
BACKSTOP_MS = 60_000  # TimeLimit past the POST's own timeouts: a receiver trickling bytes
STOP_TIMEOUT_MS = 10_000
T = TypeVar("T")


class _Loop(Middleware):
    """The delivery worker's event loop thread and prediction store, opened before its boot
    (consumers fetch messages before ``after_worker_boot``; see queue._Context)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.thread: EventLoopThread | None = None
        self.store: PredictionStore | None = None

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        self.thread = EventLoopThread(log)
        self.thread.start(timeout=1.0)
        url = self.settings.resolved_database_url
        self.store = PredictionStore.from_url(url, self.settings.callback_threads + 1)

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if self.thread is not None:
            if self.store is not None:
                self.thread.run_coroutine(self.store.close())
            self.thread.stop()  # type: ignore[no-untyped-call]
            self.thread.join()
            self.thread, self.store = None, None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self.thread is not None, "the loop starts at worker boot"
        result: T = self.thread.run_coroutine(coro)
        return result


class Callbacks:
    """The delivery broker of one process and its actor (run where jobs run)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        broker = open_broker(settings)
        self.loop = _Loop(settings)
        broker.add_middleware(self.loop)
        self.broker = broker
        self.worker: dramatiq.Worker | None = None
        self._secret: bytes | None = None
        timeout_ms = int(settings.callback_timeout_seconds * 1000)
        # Dramatiq retries only a fault of ours (the database); the receiver's are counted
        # on the row, attempt by attempt.
        self.actor: Any = dramatiq.actor(
            actor_name=ACTOR,
            queue_name=QUEUE,
            broker=broker,
            max_retries=settings.callback_max_attempts,
            min_backoff=1000,
            max_backoff=60_000,
            time_limit=4 * timeout_ms + BACKSTOP_MS,
        )(self.deliver)

    def send(self, pred_id: str, delay_seconds: float = 0.0) -> None:
        """Blocking on Redis: call it from a thread in async code."""
        delay = int(delay_seconds * 1000) or None
        self.actor.send_with_options(args=(pred_id,), delay=delay)

    def deliver(self, pred_id: str) -> None:
        """One attempt: POST the prediction as it stands, record the outcome, and send
        the next attempt (later) unless it was delivered, refused or the last."""
        settings = self.settings
        assert self.loop.store is not None
        store = self.loop.store
        row = self.loop.run(store.get(None, pred_id))
        if row is None or row["status"] not in FINAL or row["callback_status"] != "pending":
            return
        attempts = list(row["callback_attempts"] or [])
        number = len(attempts) + 1
        body = orjson.dumps(prediction_json(row))  # the bytes signed are the bytes sent
        if self._secret is None:
            self._secret = server_secret(settings)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "vlmfiles-callbacks",
            "X-VLMRun-Signature": signature(tenant_secret(self._secret, row["tenant_id"]), body),
            "X-VLMRun-Delivery": f"{pred_id}/{number}",
        }
        at = iso(now_us())
        outcome = post(
            row["callback_url"],
            body,
            headers,
            settings.callback_timeout_seconds,
            settings.allow_private_urls,
        )
        attempts.append(outcome.record(at or ""))
        if outcome.delivered:
            status = "delivered"
        elif outcome.final or number >= settings.callback_max_attempts:
            status = "failed"
        else:
            status = "pending"
        if not self.loop.run(store.record_callback(pred_id, attempts, status)):
            return
        if status == "pending":
            delay = min(settings.callback_backoff_seconds * 2 ** (number - 1), MAX_BACKOFF_SECONDS)
            log.info(
                "callback of %s, attempt %s: %s; again in %g s",
                pred_id,
                number,
                outcome.error,
                delay,
            )
            self.send(pred_id, delay)
        elif status == "failed":
            log.warning(
                "callback of %s failed after %s attempts: %s", pred_id, number, outcome.error
            )

    def start_worker(self) -> None:
        self.worker = dramatiq.Worker(
            self.broker, worker_threads=self.settings.callback_threads, worker_timeout=100
        )
        self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(timeout=STOP_TIMEOUT_MS)
            self.worker = None
        self.broker.close()
