"""Response and request bodies, as pydantic models: they drive the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .._protocol import Purpose


class FileObject(BaseModel):
    id: str = Field(examples=["file_18b3f2a1c9d4e3f9a1c0b7d2e4a"])
    object: Literal["file"] = "file"
    filename: str
    bytes: int
    purpose: Purpose
    created_at: str = Field(description="ISO 8601, UTC.")
    content_type: str = Field(description="Detected from the bytes, not the name.")
    sha256: str
    md5: str | None = Field(
        description="null for a second or two per GiB after a file over 1 MiB is uploaded: "
        "it is computed after the answer. Lookups by md5 wait for it."
    )
    url: str = Field(description="Signed download URL; works without the API key until it expires.")
    public_url: str = Field(description="Same as url (the official SDK reads this name).")
    url_expires_at: str


class PresignedUrlRequest(BaseModel):
    filename: str = Field(min_length=1, max_length=1024)
    purpose: Purpose | None = None
    expiration: int | None = Field(None, description="URL lifetime in seconds (default 3600).")
    content_type: str | None = Field(None, max_length=255)


class PresignedUrlObject(BaseModel):
    id: str
    url: str = Field(description="PUT the raw bytes here, without the API key.")
    filename: str
    purpose: Purpose
    content_type: str
    upload_method: Literal["PUT"] = "PUT"
    method: Literal["PUT"] = "PUT"
    public_url: str | None = None
    created_at: str
    expiration: int


class ErrorBody(BaseModel):
    message: str
    type: str
    id: str = Field(description="The request id, also in the X-Request-Id header.")


class ErrorObject(BaseModel):
    error: ErrorBody


class HealthObject(BaseModel):
    status: Literal["ok"] = "ok"
    tenant: str


ERRORS = {
    code: {"model": ErrorObject, "description": text}
    for code, text in {
        400: "Invalid request (says what is accepted)",
        401: "Missing, invalid or revoked API key",
        403: "Signed URL invalid or expired",
        404: "No such file for this API key's tenant",
        409: "Conflict",
        413: "File larger than the server's limit",
        415: "File type not accepted for this purpose",
        503: "A backing service is unavailable; retry after Retry-After seconds",
    }.items()
}
