"""``Prediction``: a prediction as the API describes it (the official ``PredictionResponse``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._datetime import UTCDateTime
from .callback import CallbackDelivery
from .response_data import wrap_response

__all__ = ["CreditUsage", "Prediction", "PredictionStatus"]

PredictionStatus = Literal["enqueued", "pending", "running", "completed", "failed", "paused"]
"""The statuses the server sends; ``completed`` and ``failed`` are final."""

FINAL_STATUSES = frozenset({"completed", "failed"})


class CreditUsage(BaseModel):
    """What a prediction processed. Every field is optional."""

    model_config = ConfigDict(extra="allow")

    elements_processed: int | None = None
    """Pages or images processed."""
    element_type: str | None = None
    """``"page"`` or ``"image"`` (``"video"``, ``"audio"`` elsewhere)."""
    credits_used: int | None = None
    steps: int | None = None
    message: str | None = None
    duration_seconds: int | float | None = None


class Prediction(BaseModel):
    """One prediction. Unknown fields from a newer server are kept, not refused.

    ``response`` is ``None`` until the prediction completes; then the domain's result, whose
    JSON objects read by key and by attribute (``ResponseData``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    """``pred_`` followed by hex digits (any string the server sends)."""
    status: str
    """One of ``PredictionStatus``: ``enqueued``, ``pending``, ``running``, ``paused``,
    then ``completed`` or ``failed``. A plain ``str`` so that a status a newer server adds
    does not break parsing."""
    created_at: UTCDateTime
    """When the prediction was submitted (aware, UTC)."""
    started_at: UTCDateTime | None = None
    """When a worker began it; ``None`` before."""
    completed_at: UTCDateTime | None = None
    """When it completed or failed; ``None`` before."""
    domain: str | None = None
    """The domain asked for, e.g. ``document.invoice``."""
    model: str | None = None
    """The model asked for (``vlm-1``)."""
    response: Any = None
    """The result: a ``ResponseData`` (a ``dict`` that also reads by attribute) for a JSON
    object, lists of them for a list; ``None`` until ``completed``."""
    usage: CreditUsage = Field(default_factory=CreditUsage)
    """What was processed (pages or images)."""
    engine: str | None = None
    """Which engine produced the result, e.g. ``offline/tesseract``."""
    error: str | None = None
    """Why the prediction failed (``status == "failed"``); ``None`` otherwise."""
    callback: CallbackDelivery | None = None
    """The ``callback_url``'s delivery and its attempts; ``None`` without one."""

    @field_validator("response", mode="after")
    @classmethod
    def _wrap(cls, value: Any) -> Any:
        return wrap_response(value)

    @field_validator("error", mode="before")
    @classmethod
    def _error_message(cls, value: Any) -> Any:
        # An error object ({"message": ..., "type": ...}) is read as its message.
        if isinstance(value, dict):
            return value.get("message") or str(value)
        return value

    @property
    def done(self) -> bool:
        """Whether the status is final (``completed`` or ``failed``)."""
        return self.status in FINAL_STATUSES

    @property
    def reason(self) -> str | None:
        """Why it failed: ``error``, else the server's ``usage.message``; ``None`` if neither."""
        return self.error or self.usage.message
