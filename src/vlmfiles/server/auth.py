"""API key authentication: ``Authorization: Bearer <key>`` → the key's tenant."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request

from .errors import Unauthorized
from .security import hash_api_key

REFUSED = (
    "Invalid or revoked API key. Create one with `vlmfiles keys create` on the server's "
    "machine (with the --data-dir or --database-url the server uses, if it was given one)."
)


def _bearer_key(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Missing API key: send the header 'Authorization: Bearer <key>'.")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("Malformed Authorization header: expected 'Bearer <key>'.")
    return key


async def _key_of(request: Request, key_hash: str) -> tuple[str, str]:
    key: tuple[str, str] | None = await request.app.state.service.store.live_key(key_hash)
    if key is None:
        raise Unauthorized(REFUSED)
    return key


async def require_tenant(request: Request) -> str:
    """FastAPI dependency: the tenant id of the request's API key, or 401. The key's id is
    left in ``request.state.key_id``: the URLs the answer signs live as long as the key."""
    tenant, request.state.key_id = await _key_of(request, hash_api_key(_bearer_key(request)))
    return tenant


class RecentKeys:
    """The API keys that uploaded lately, so that an upload can start without looking its
    key up: on PostgreSQL that lookup is a round trip of its own before the body is read
    (on SQLite it runs on the event loop and this buys nothing). ``recent_keys_ttl_seconds
    = 0`` switches it off.

    Only uploads use it, and it never decides alone: an upload that starts from here passes
    its key's hash to the commit, which checks the key in the same transaction as the write
    (``MetadataStore.commit_upload``). A revoked key's upload is so refused (401, nothing
    stored) however recent its entry, and its entry is dropped; every other request looks
    its key up as before. Misses are not kept (a flood of bad keys cannot fill it); entries
    expire after ``ttl`` seconds and the oldest go first beyond ``max_entries``."""

    def __init__(
        self,
        max_entries: int = 4096,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        # Used from the event loop only, with no await inside a method: no lock needed.
        self._entries: OrderedDict[str, tuple[tuple[str, str], float]] = OrderedDict()

    def get(self, key_hash: str) -> tuple[str, str] | None:
        """``(tenant_id, key_id)`` of a key that uploaded within ``ttl`` seconds."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key_hash]
            return None
        self._entries.move_to_end(key_hash)
        return entry[0]

    def put(self, key_hash: str, key: tuple[str, str]) -> None:
        if self.ttl <= 0:
            return
        self._entries[key_hash] = (key, self._clock() + self.ttl)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)

    def __len__(self) -> int:
        return len(self._entries)


async def upload_tenant(request: Request) -> tuple[str, str]:
    """FastAPI dependency of uploads: ``(tenant, key_hash)``, from the process's
    ``RecentKeys`` or looked up (then remembered). The commit must check ``key_hash``."""
    recent: RecentKeys = request.app.state.recent_keys
    key_hash = hash_api_key(_bearer_key(request))
    key = recent.get(key_hash)
    if key is None:
        key = await _key_of(request, key_hash)
        recent.put(key_hash, key)
    request.state.key_id = key[1]
    return key[0], key_hash
