"""Predictions as the API sees them: submit, wait, read, list."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..errors import BadRequest, NotFound
from ..service import FileService
from .callbacks import check_callback_url
from .engines import EngineSet
from .inputs import Input, check_outside_url, data_input, own_file_id
from .queue import Queue
from .store import FINAL, PredictionStore, new_prediction_id, now_us
from .user_schemas import check_json_schema

POLL_FIRST = 0.02
POLL_MAX = 0.25


@dataclass
class PredictionService:
    files: FileService
    store: PredictionStore
    queue: Queue
    engines: EngineSet
    # Embedded: the events of requests waiting for a job this process runs (``notify``).
    _waiters: dict[str, asyncio.Event] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None

    def listen(self) -> None:
        """Wake waiting requests when this process's worker threads end a job."""
        self._loop = asyncio.get_running_loop()
        self.queue.context.on_finished = self.notify

    def notify(self, pred_id: str) -> None:
        """From a worker's thread: wake a request waiting for ``pred_id``, if any."""
        event = self._waiters.get(pred_id)
        if event is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(event.set)

    def check_domain(
        self, domain: str | None, route: str, config: dict[str, Any] | None = None
    ) -> str:
        """Images and documents go to any served domain (an invoice may be a photo); audio
        only to ``audio.*``; video to ``video.*`` or any domain the model engine serves. Any other domain name goes to
        the model engine with the schema the request gives (``config.json_schema``)."""
        given = (config or {}).get("json_schema") if isinstance(config, dict) else None
        if given is not None:
            check_json_schema(given)
        allowed = sorted(self.engines.domains)
        if route == "audio":
            allowed = [d for d in allowed if d.startswith("audio.")]
        elif route == "video":  # the model engine takes a video as sampled frames
            model = self.engines.model
            allowed = [
                d for d in allowed if d.startswith("video.") or self.engines.for_domain(d) is model
            ]
        if domain and domain not in allowed and given is not None:
            if self.engines.model is not None:
                return domain
            raise BadRequest(
                f"Unknown domain {domain!r}: a custom domain with config.json_schema needs the "
                "model engine, and this server has none (start it with --vlm-base-url); it "
                f"serves {self.engines.listing()}."
            )
        if not domain or domain not in allowed:
            what = f"Unknown domain {domain!r}" if domain else "A domain is required"
            custom = (
                " Any other name is accepted with a JSON schema in config.json_schema."
                if self.engines.model is not None
                else ""
            )
            raise BadRequest(
                f"{what} for {route}/generate: this server serves "
                f"{', '.join(allowed) or 'no ' + route + ' domain'} there (all its domains: "
                f"{self.engines.listing()}).{custom}"
            )
        return domain

    async def file_input(self, tenant: str, file_id: str) -> Input:
        if not isinstance(file_id, str) or not file_id:
            raise BadRequest("file_id must be a non-empty string (a file id from POST /v1/files).")
        if await self.files.store.get_file(tenant, file_id) is None:
            raise NotFound(f"No file with id {file_id!r}: upload it first (POST /v1/files).")
        return {"kind": "file", "file_id": file_id}

    async def url_input(self, tenant: str, url: str, what: str) -> Input:
        if url.startswith("data:"):
            return data_input(url, what)
        settings = self.files.settings
        file_id = own_file_id(url, tenant, settings.resolved_public_url, self.files.signer)
        if file_id is not None:
            return await self.file_input(tenant, file_id)
        return check_outside_url(url, settings.allow_private_urls)

    async def submit(
        self,
        tenant: str,
        domain: str,
        inputs: list[Input],
        *,
        model: str,
        batch: bool,
        config: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        callback_url: str | None,
    ) -> dict[str, Any]:
        callback_url = check_callback_url(callback_url, self.files.settings.allow_private_urls)
        pred_id = new_prediction_id()
        await self.store.create(
            {
                "id": pred_id,
                "tenant_id": tenant,
                "domain": domain,
                "model": model,
                "status": "enqueued",
                "created_us": now_us(),
                "inputs": inputs,
                "config": config,
                "request_metadata": metadata,
                "callback_url": callback_url,
                "callback_status": "pending" if callback_url else None,
                "attempts": 0,
                "usage": {},
            }
        )
        if self.queue.in_memory:
            self.queue.send(pred_id)
        else:
            await anyio.to_thread.run_sync(self.queue.send, pred_id)
        if not batch:
            return await self.wait(tenant, pred_id, self.files.settings.sync_wait_seconds)
        return await self.get(tenant, pred_id)

    async def wait(self, tenant: str, pred_id: str, seconds: float) -> dict[str, Any]:
        """The prediction once it ended, or as it stands after ``seconds``."""
        deadline = time.monotonic() + seconds
        pause = POLL_FIRST
        event = self._waiters.setdefault(pred_id, asyncio.Event())
        try:
            while True:
                row = await self.get(tenant, pred_id)
                if row["status"] in FINAL or time.monotonic() >= deadline:
                    return row
                # Woken at once when this process ran the job; else (another process, a
                # Redis worker) by polling, backing off.
                with anyio.move_on_after(min(pause, max(0.0, deadline - time.monotonic()))):
                    await event.wait()
                event.clear()
                pause = min(pause * 2, POLL_MAX)
        finally:
            self._waiters.pop(pred_id, None)

    async def get(self, tenant: str, pred_id: str) -> dict[str, Any]:
        row = await self.store.get(tenant, pred_id)
        if row is None:
            raise NotFound(f"No prediction with id {pred_id!r}.")
        return dict(row)

    async def page(self, tenant: str, skip: int, limit: int) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.store.page(tenant, skip, limit)]

    async def resend_unfinished(self) -> int:
        """In-memory broker: the jobs the database says are unfinished, sent again."""
        ids = await self.store.unfinished()
        for pred_id in ids:
            self.queue.send(pred_id)
        return len(ids)

    async def resend_callbacks(self) -> int:
        """In-memory broker: the callback deliveries still pending, sent again."""
        ids = await self.store.callbacks_pending()
        for pred_id in ids:
            self.queue.callbacks.send(pred_id)
        return len(ids)
