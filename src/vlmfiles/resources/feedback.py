"""``client.feedback``: store a correction or a note on a prediction, and read them back.

Each call is a plan (``_plans.py``) shared by ``Feedback`` and ``AsyncFeedback``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._base_client import RequestOptions, TimeoutTypes
from ..types import FeedbackList, FeedbackSubmitted, Prediction
from ._plans import Plan, arun, run
from ._prediction_plans import require_id

if TYPE_CHECKING:
    from .._client import AsyncClient, Client

__all__ = ["AsyncFeedback", "Feedback"]


def submit_plan(
    request_id: str | Prediction, response: Any, notes: str | None, timeout: TimeoutTypes
) -> Plan[FeedbackSubmitted]:
    body: dict[str, Any] = {"request_id": require_id(request_id)}
    if response is not None:
        dump = getattr(response, "model_dump", None)  # a typed (autocast) response
        body["response"] = dump(mode="json") if callable(dump) else response
    if notes is not None:
        body["notes"] = notes
    if len(body) == 1:
        raise ValueError("Pass `response` (the corrected result), `notes`, or both")
    data = yield RequestOptions("POST", "feedback/submit", json=body, timeout=timeout)
    return FeedbackSubmitted.model_validate(data)


def get_plan(
    request_id: str | Prediction, offset: int, limit: int, timeout: TimeoutTypes
) -> Plan[FeedbackList]:
    pid = require_id(request_id)
    if offset < 0 or limit < 1:
        raise ValueError("`offset` must be 0 or more and `limit` 1 or more")
    params = {"offset": offset, "limit": limit}
    data = yield RequestOptions("GET", f"feedback/{pid}", params=params, timeout=timeout)
    return FeedbackList.model_validate(data)


class Feedback:
    def __init__(self, client: Client) -> None:
        self._client = client

    def submit(
        self,
        request_id: str | Prediction,
        response: Any = None,
        notes: str | None = None,
        *,
        timeout: TimeoutTypes = None,
    ) -> FeedbackSubmitted:
        """Store a correction (``response``: the right result, a dict or a model) and/or
        ``notes`` on the prediction ``request_id``. Every submission is kept."""
        return run(self._client, submit_plan(request_id, response, notes, timeout))

    def get(
        self,
        request_id: str | Prediction,
        offset: int = 0,
        limit: int = 10,
        *,
        timeout: TimeoutTypes = None,
    ) -> FeedbackList:
        """The feedback stored on a prediction, newest first."""
        return run(self._client, get_plan(request_id, offset, limit, timeout))


class AsyncFeedback:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def submit(
        self,
        request_id: str | Prediction,
        response: Any = None,
        notes: str | None = None,
        *,
        timeout: TimeoutTypes = None,
    ) -> FeedbackSubmitted:
        """As ``Feedback.submit``."""
        return await arun(self._client, submit_plan(request_id, response, notes, timeout))

    async def get(
        self,
        request_id: str | Prediction,
        offset: int = 0,
        limit: int = 10,
        *,
        timeout: TimeoutTypes = None,
    ) -> FeedbackList:
        """As ``Feedback.get``."""
        return await arun(self._client, get_plan(request_id, offset, limit, timeout))
