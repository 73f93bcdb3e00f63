"""``PresignedUrlResponse``: where to ``PUT`` a file's bytes, without an API key."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ._datetime import UTCDateTime

__all__ = ["PresignedUrlResponse"]


class PresignedUrlResponse(BaseModel):
    """A pending upload: ``PUT`` the raw bytes to ``url``, then verify it by ``id``."""

    model_config = ConfigDict(extra="allow")

    id: str
    """Id of the pending upload; ``GET files/verify-upload/{id}`` completes it."""
    url: str
    """Signed URL to ``PUT`` the raw bytes to; needs no ``Authorization`` header."""
    filename: str | None = None
    content_type: str | None = None
    """``Content-Type`` to send with the ``PUT``."""
    upload_method: str = "PUT"
    method: str | None = "PUT"
    public_url: str | None = None
    created_at: UTCDateTime | None = None
    expiration: int | None = None
    """Lifetime of ``url`` in seconds."""
