"""``FileResponse``: a file as the API describes it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .._protocol import Purpose
from ._datetime import UTCDateTime

__all__ = ["FilePurpose", "FileResponse"]

FilePurpose = Purpose


class FileResponse(BaseModel):
    """One stored file. Unknown fields from a newer server are kept, not refused."""

    model_config = ConfigDict(extra="allow")

    id: str | None
    """Unique file identifier, ``file_`` followed by hex digits."""
    filename: str | None
    """The name the file was uploaded with."""
    bytes: int
    """Size of the content in bytes."""
    purpose: FilePurpose
    """What the file is for; decides which types the server accepts."""
    created_at: UTCDateTime
    """When the file was stored: aware, in UTC; compares with naive local datetimes too."""
    object: str = "file"
    """Always ``"file"``."""
    url: str | None = None
    """Signed download URL; works without an API key until ``url_expires_at``."""
    public_url: str | None = None
    """Same as ``url`` (the name the official SDK reads)."""
    url_expires_at: UTCDateTime | None = None
    """When ``url`` and ``public_url`` stop working."""
    content_type: str | None = None
    """Media type judged from the file's bytes."""
    sha256: str | None = None
    """Hex SHA-256 of the content."""
    md5: str | None = None
    """Hex MD5 of the content."""
