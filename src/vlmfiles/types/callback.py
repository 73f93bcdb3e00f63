"""``CallbackDelivery``: how a prediction's ``callback_url`` was called, attempt by attempt."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ._datetime import UTCDateTime

__all__ = ["CallbackAttempt", "CallbackDelivery"]


class CallbackAttempt(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: UTCDateTime
    """When the POST was made (aware, UTC)."""
    status_code: int | None = None
    """The receiver's answer; ``None`` when none came (connection error, timeout)."""
    error: str | None = None
    """Why the attempt did not deliver; ``None`` for a 2xx."""
    duration_ms: int = 0


class CallbackDelivery(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: str
    status: str
    """``pending`` until an attempt gets a 2xx (``delivered``) or the last fails (``failed``)."""
    attempts: list[CallbackAttempt] = Field(default_factory=list)
