"""What an engine is: code that turns a prediction's input files into its domain's response.

The prediction pipeline (``server/predictions/``) fetches and bounds the inputs, writes them
to local files, and calls ``Engine.run`` in a worker thread; engines are plain blocking code.
An engine never invents a value: a field it did not find is ``None`` in the response.

Exceptions, all carrying a message a user can act on::

    EngineError            the job fails with this message (not retried)
    ├── InputRejected      the input cannot be processed: encrypted or malformed PDF, too many
    │                      pages or pixels, a format the domain does not take
    └── JobTimeout         the job passed its deadline (``Limits.deadline``)
    ModelUnavailable       a model endpoint is down, overloaded or slow: transient, the
                           runner hands the job back to the broker to retry
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol


class EngineError(Exception):
    """The job fails with ``str(self)`` as its reason; retrying would not help."""


class InputRejected(EngineError):
    """An input this engine cannot or will not process (says which and why)."""


class JobTimeout(EngineError):
    """The job ran past ``Limits.deadline``."""


class ModelUnavailable(Exception):
    """The model endpoint did not answer usably (429, 5xx, timeout); a later try may."""


@dataclass(frozen=True)
class EngineInput:
    path: Path  # a local file the engine may read; the pipeline removes it afterwards
    media_type: str  # sniffed from the bytes: "application/pdf", "image/png", ...
    name: str  # the user's filename or the URL's last segment, for messages


@dataclass(frozen=True)
class Limits:
    max_pages: int  # a PDF with more pages is rejected before any page is read
    max_pixels: int  # an image (or rendered page) with more pixels is rejected before decoding
    deadline: float  # time.monotonic() value; checked between pages/images -> JobTimeout


@dataclass(frozen=True)
class EngineResult:
    response: dict[str, Any]  # the domain's response, in the platform's shape
    elements: int  # pages or images processed (usage.elements_processed)
    element_type: Literal["page", "image"]
    engine: str  # which engine produced it, e.g. "offline/tesseract" (shown on the prediction)
    tokens: Mapping[str, int] | None = None  # prompt/completion/total_tokens a model reported


class Engine(Protocol):
    """One engine serves one or more domains."""

    name: str

    def domains(self) -> Mapping[str, str]:
        """The domains this engine serves, each with a one-line description."""
        ...

    def run(
        self,
        domain: str,
        inputs: Sequence[EngineInput],
        config: Mapping[str, Any],
        limits: Limits,
    ) -> EngineResult:
        """Process ``inputs`` for ``domain``; ``config`` is the request's GenerationConfig dict."""
        ...
