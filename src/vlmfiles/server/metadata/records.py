"""The rows the metadata store hands out, as frozen dataclasses."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import datetime, timezone


class RevokedKey(Exception):
    """An upload's API key was revoked (or removed) before its record was committed."""


class IdTaken(Exception):
    """An upload's record id is another record's already (two PUTs to one upload URL)."""


def now_us() -> int:
    return time.time_ns() // 1000


@functools.lru_cache(maxsize=256)  # a listing's URLs share one expiry time
def iso(us: int) -> str:
    """Microseconds since the epoch as ISO 8601 UTC with a ``Z``, as the API sends times."""
    return datetime.fromtimestamp(us / 1e6, tz=timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class FileRecord:
    id: str
    tenant_id: str
    sha256: str
    md5: str | None  # None for a moment after a large upload, until it is computed
    bytes: int
    purpose: str
    filename: str
    content_type: str
    created_us: int


@dataclass(frozen=True)
class UploadRecord:
    id: str
    tenant_id: str
    filename: str
    purpose: str
    content_type: str
    created_us: int
    expires_us: int
    file_id: str | None
    error_status: int | None = None
    error_message: str | None = None
