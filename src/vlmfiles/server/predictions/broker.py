"""The Dramatiq broker of one process: Redis at scale, in memory embedded.

Jobs (``queue.py``) and callback deliveries (``callback_queue.py``) each open their own,
so a slow receiver never takes a job slot; both are built here so they cannot drift.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from ..settings import Settings


def open_broker(settings: Settings) -> dramatiq.Broker:
    if not settings.queue_url:
        return StubBroker()
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.queue_url,
        namespace=settings.queue_namespace,
        # Late ack: a worker silent this long is taken for dead and its messages go to another.
        heartbeat_timeout=int(settings.queue_heartbeat_seconds * 1000),
        maintenance_chance=settings.queue_maintenance_chance,
    )
