"""``client.document.generate``: a prediction on one document (PDF or image)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._base_client import TimeoutTypes
from .._uploads import FileSource
from ..types import Prediction
from . import _prediction_plans as plans
from ._plans import arun, run

if TYPE_CHECKING:
    from .._client import AsyncClient, Client

__all__ = ["AsyncDocument", "Document"]


class Document:
    def __init__(self, client: Client) -> None:
        self._client = client

    def generate(
        self,
        file: FileSource | None = None,
        url: str | None = None,
        *,
        urls: Sequence[str] | None = None,
        file_id: str | None = None,
        domain: str,
        batch: bool = False,
        config: Any = None,
        metadata: Any = None,
        callback_url: str | None = None,
        model: str = "vlm-1",
        timeout: TimeoutTypes = None,
    ) -> Prediction:
        """Run ``domain`` on one document, given as exactly one of: ``file`` (a local path
        or binary file object, uploaded first with ``client.files.upload``; a string with no
        extension that is not a local path is taken as a file id, as the official SDK does),
        ``url`` or ``urls=[url]`` (one URL), or ``file_id``."""
        return run(
            self._client,
            plans.document_generate(
                file=file,
                url=url,
                urls=urls,
                file_id=file_id,
                domain=domain,
                model=model,
                batch=batch,
                config=config,
                metadata=metadata,
                callback_url=callback_url,
                timeout=timeout,
            ),
        )


class AsyncDocument:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def generate(
        self,
        file: FileSource | None = None,
        url: str | None = None,
        *,
        urls: Sequence[str] | None = None,
        file_id: str | None = None,
        domain: str,
        batch: bool = False,
        config: Any = None,
        metadata: Any = None,
        callback_url: str | None = None,
        model: str = "vlm-1",
        timeout: TimeoutTypes = None,
    ) -> Prediction:
        """As ``Document.generate``."""
        return await arun(
            self._client,
            plans.document_generate(
                file=file,
                url=url,
                urls=urls,
                file_id=file_id,
                domain=domain,
                model=model,
                batch=batch,
                config=config,
                metadata=metadata,
                callback_url=callback_url,
                timeout=timeout,
            ),
        )
