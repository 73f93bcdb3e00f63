"""``client.image.generate``: a prediction on images (local paths, PIL images or URLs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._base_client import TimeoutTypes
from ..types import Prediction
from . import _prediction_plans as plans
from ._plans import arun, run

if TYPE_CHECKING:
    from .._client import AsyncClient, Client

__all__ = ["AsyncImage", "Image"]


class Image:
    def __init__(self, client: Client) -> None:
        self._client = client

    def generate(
        self,
        images: Sequence[Any] | None = None,
        urls: Sequence[str] | None = None,
        *,
        domain: str,
        batch: bool = False,
        config: Any = None,
        metadata: Any = None,
        callback_url: str | None = None,
        model: str = "vlm-1",
        timeout: TimeoutTypes = None,
    ) -> Prediction:
        """Run ``domain`` on ``images`` (paths or PIL images, sent inline) or ``urls``
        (http(s); the server reads its own file URLs from its store). With ``batch=False``
        the answer is normally ``completed``, the result in ``response``; with
        ``batch=True`` it is ``pending`` at once: ``client.predictions.wait(p.id)``."""
        return run(
            self._client,
            plans.image_generate(
                images=images,
                urls=urls,
                domain=domain,
                model=model,
                batch=batch,
                config=config,
                metadata=metadata,
                callback_url=callback_url,
                timeout=timeout,
            ),
        )


class AsyncImage:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def generate(
        self,
        images: Sequence[Any] | None = None,
        urls: Sequence[str] | None = None,
        *,
        domain: str,
        batch: bool = False,
        config: Any = None,
        metadata: Any = None,
        callback_url: str | None = None,
        model: str = "vlm-1",
        timeout: TimeoutTypes = None,
    ) -> Prediction:
        """As ``Image.generate``; images are read and encoded in a worker thread."""
        return await arun(
            self._client,
            plans.image_generate(
                images=images,
                urls=urls,
                domain=domain,
                model=model,
                batch=batch,
                config=config,
                metadata=metadata,
                callback_url=callback_url,
                timeout=timeout,
            ),
        )
