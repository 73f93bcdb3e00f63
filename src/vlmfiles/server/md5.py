"""The md5 of a large upload, computed after the upload is answered.

Only the official SDK's hash lookups (``GET /v1/files/hash/{md5}``) need a file's md5; the
sha256 is what de-duplicates and checks integrity. Hashing md5 during the upload made it the
slowest stage (md5 is much slower than sha256 with SHA-NI), so a body larger than one ingest batch is
committed with ``md5`` NULL and this fills it in by reading the blob back, in the
background, once per blob. A record's md5 is ``null`` in the API until then.

Nothing waits on a wrong answer: a lookup by md5 that finds nothing while the tenant has
files still pending waits for them (``wait_for_tenant``) before it says "not found". A
process that dies with work pending leaves NULL rows; the sweep fills those once they are
older than ``SWEEP_AFTER_SECONDS`` (so it does not race the process that wrote them), and
``vlmfiles fsck --repair`` fills them too.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator

import anyio
from anyio.abc import TaskGroup

from .metadata.store import MetadataStore
from .storage import BlobNotFound, BlobStore

log = logging.getLogger("vlmfiles.server")

SWEEP_AFTER_SECONDS = 60
LOOKUP_WAIT_SECONDS = 60
CHUNKS_PER_HOP = 16  # chunks hashed per thread hop: cancellable between hops


class Md5Filler:
    def __init__(self, store: MetadataStore, blobs: BlobStore) -> None:
        self._store = store
        self._blobs = blobs
        self._running: dict[str, anyio.Event] = {}
        self._tg: TaskGroup | None = None

    def start(self, tg: TaskGroup) -> None:
        """Run fills in ``tg`` (the server's lifespan task group) from now on."""
        self._tg = tg

    def schedule(self, sha256: str) -> anyio.Event:
        """Fill this blob's md5 in the background (once, however often asked); the event is
        set when it is done or has failed."""
        if self._tg is None:  # no server running (start-up sweep, tools): nothing to wait for
            done = anyio.Event()
            done.set()
            return done
        event = self._running.get(sha256)
        if event is None:
            event = self._running[sha256] = anyio.Event()
            self._tg.start_soon(self._fill, sha256, event)
        return event

    async def fill(self, sha256: str) -> None:
        """Fill this blob's md5 now (``fsck --repair``)."""
        await self._fill(sha256, anyio.Event())

    async def _fill(self, sha256: str, event: anyio.Event) -> None:
        try:
            md5 = await self._compute(sha256)
            if md5 is not None:
                await self._store.set_md5(sha256, md5)
        except Exception:
            log.exception("could not compute the md5 of blob %s; the sweep retries", sha256)
        finally:
            self._running.pop(sha256, None)
            event.set()

    async def _compute(self, sha256: str) -> str | None:
        try:
            # Read once, past the page cache where the store can (see LocalBlobStore).
            chunks = await anyio.to_thread.run_sync(self._blobs.read_once, sha256)
        except BlobNotFound:  # deleted meanwhile: nothing left to describe
            return None
        h = hashlib.md5()

        def step(it: Iterator[bytes | memoryview] = chunks) -> bool:
            for n, chunk in enumerate(it, 1):
                h.update(chunk)
                if n == CHUNKS_PER_HOP:
                    return False
            return True

        try:
            while not await anyio.to_thread.run_sync(step):
                pass
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await anyio.to_thread.run_sync(close)
        return h.hexdigest()

    async def wait_for_tenant(self, tenant_id: str, timeout: float = LOOKUP_WAIT_SECONDS) -> bool:
        """Wait until the tenant's pending md5s are filled; False if none were pending."""
        pending = await self._store.pending_md5(tenant_id)
        if not pending:
            return False
        events = [self.schedule(sha) for sha in pending]
        with anyio.move_on_after(timeout):
            for event in events:
                await event.wait()
        return True

    async def sweep(self) -> int:
        """Start filling md5s left pending by a process that died; return how many."""
        older = await self._store.pending_md5(older_than_seconds=SWEEP_AFTER_SECONDS)
        for sha in older:
            self.schedule(sha)
        return len(older)
