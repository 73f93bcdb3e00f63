"""Feedback on a prediction: what ``client.feedback.submit`` and ``.get`` return."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ._datetime import UTCDateTime

__all__ = ["FeedbackItem", "FeedbackList", "FeedbackSubmitted"]


class FeedbackSubmitted(BaseModel):
    """The stored submission (the official SDK's ``FeedbackSubmitResponse``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    request_id: str
    """The prediction the feedback is about."""
    created_at: UTCDateTime


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    created_at: UTCDateTime
    response: Any = None
    """The corrected result, as submitted (any JSON)."""
    notes: str | None = None


class FeedbackList(BaseModel):
    """One page of a prediction's feedback, newest first."""

    model_config = ConfigDict(extra="allow")

    request_id: str
    items: list[FeedbackItem]
