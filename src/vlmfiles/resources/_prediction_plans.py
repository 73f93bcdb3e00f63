"""Every prediction call as a plan (``_plans.py``), shared by the sync and async resources:
argument checks that fail before any request, request bodies, answer parsing, polling."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._base_client import RequestOptions, TimeoutTypes
from ..exceptions import PredictionFailedError, PredictionTimeoutError, VlmFilesError
from ..types import Prediction
from ._image_inputs import encode_image, is_image_input
from ._plans import Blocking, Plan, Sleep, Upload

DEFAULT_WAIT_TIMEOUT = 600.0
DEFAULT_WAIT_SLEEP = 5.0
LIST_PAGE = 100
"""Predictions asked for per page while iterating ``predictions.list()``."""


def require_id(prediction_id: Any) -> str:
    if isinstance(prediction_id, Prediction):
        return prediction_id.id
    if not isinstance(prediction_id, str) or not prediction_id:
        raise ValueError("Expected a non-empty prediction id")
    return prediction_id


def _require_domain(domain: Any) -> str:
    if not isinstance(domain, str) or not domain.strip():
        raise ValueError(
            "A domain is required, e.g. domain='document.invoice'; GET /v1/domains lists "
            "the ones the server serves"
        )
    return domain


def _as_list(value: Any, name: str) -> list[Any]:
    """``value`` as a list: one item is taken as a list of one; an empty list is refused."""
    if isinstance(value, (str, bytes, os.PathLike)) or not isinstance(value, Sequence):
        value = [value]
    items = list(value)
    if not items:
        raise ValueError(f"`{name}` is empty: pass at least one")
    return items


def _dump(value: Any, name: str) -> dict[str, Any]:
    """A config or metadata argument as JSON: a mapping, or a pydantic model (the official
    SDK's ``GenerationConfig``/``RequestMetadata``)."""
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        result = dump(exclude_none=True)
        if isinstance(result, dict):
            return result
    raise TypeError(f"`{name}` must be a dict or a pydantic model, not {type(value).__name__}")


def _options(
    body: dict[str, Any],
    config: Any,
    metadata: Any,
    callback_url: str | None,
) -> dict[str, Any]:
    if config is not None:
        body["config"] = _dump(config, "config")
    if metadata is not None:
        body["metadata"] = _dump(metadata, "metadata")
    if callback_url is not None:
        body["callback_url"] = callback_url
    return body


def _prediction(data: Any, what: str) -> Prediction:
    if not isinstance(data, dict):
        raise VlmFilesError(f"{what} answered {type(data).__name__}, not a prediction object")
    return Prediction.model_validate(data)


def image_generate(
    *,
    images: Any,
    urls: Any,
    domain: Any,
    model: str,
    batch: bool,
    config: Any,
    metadata: Any,
    callback_url: str | None,
    timeout: TimeoutTypes,
) -> Plan[Prediction]:
    _require_domain(domain)
    if images is not None and urls is not None:
        raise ValueError("Pass either `images` (paths or PIL images) or `urls`, not both")
    if images is None and urls is None:
        raise ValueError("Pass `images` (paths or PIL images) or `urls` (http(s) URLs)")
    if urls is not None:
        items = _as_list(urls, "urls")
        for url in items:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ValueError(
                    f"Every URL must start with http:// or https://, got {url!r}; pass local "
                    "files as images=[path]"
                )
    else:
        items = _as_list(images, "images")
        for image in items:
            if not is_image_input(image):
                raise TypeError(f"An image is a path or a PIL image, not {type(image).__name__}")
        items = yield Blocking(lambda: [encode_image(i) for i in items])
    body = {"model": model, "images": items, "domain": domain, "batch": batch}
    data = yield RequestOptions(
        "POST",
        "image/generate",
        json=_options(body, config, metadata, callback_url),
        timeout=timeout,
    )
    return _prediction(data, "POST image/generate")


def _looks_like_file_id(value: str) -> bool:
    # The official SDK's rule: a string without an extension is a file id, not a path.
    return not Path(value).suffix and not os.path.exists(value)


def document_generate(
    *,
    file: Any,
    url: str | None,
    urls: Any,
    file_id: str | None,
    domain: Any,
    model: str,
    batch: bool,
    config: Any,
    metadata: Any,
    callback_url: str | None,
    timeout: TimeoutTypes,
) -> Plan[Prediction]:
    _require_domain(domain)
    if urls is not None:
        listed = _as_list(urls, "urls")
        if len(listed) > 1:
            raise ValueError(
                f"A document prediction reads one document; got {len(listed)} urls. Call "
                "document.generate once per URL"
            )
        if url is not None:
            raise ValueError("Pass `url` or `urls`, not both")
        url = listed[0]
    given = [n for n, v in (("file", file), ("url", url), ("file_id", file_id)) if v is not None]
    if len(given) != 1:
        raise ValueError(
            "Pass exactly one of `file` (a local path or file object), `url`/`urls=[url]` "
            f"or `file_id`; got {', '.join(given) or 'none'}"
        )
    body: dict[str, Any] = {"model": model, "domain": domain, "batch": batch}
    if url is not None:
        if not isinstance(url, str) or not url:
            raise ValueError(f"`url` must be a non-empty string, got {url!r}")
        body["url"] = url
    elif file_id is not None:
        body["file_id"] = require_file_id(file_id)
    elif isinstance(file, str) and _looks_like_file_id(file):
        body["file_id"] = file
    else:
        uploaded = yield Upload(file)
        body["file_id"] = uploaded.id
    data = yield RequestOptions(
        "POST",
        "document/generate",
        json=_options(body, config, metadata, callback_url),
        timeout=timeout,
    )
    return _prediction(data, "POST document/generate")


def require_file_id(file_id: Any) -> str:
    if not isinstance(file_id, str) or not file_id:
        raise ValueError("Expected a non-empty value for `file_id`")
    return file_id


def get(prediction_id: Any, timeout: TimeoutTypes = None) -> Plan[Prediction]:
    pid = require_id(prediction_id)
    data = yield RequestOptions("GET", f"predictions/{pid}", timeout=timeout)
    return _prediction(data, f"GET predictions/{pid}")


def wait(prediction_id: Any, timeout: float, sleep: float) -> Plan[Prediction]:
    """Poll until ``completed`` (returned) or ``failed`` (``PredictionFailedError``), at most
    ``timeout`` seconds (``PredictionTimeoutError``)."""
    pid = require_id(prediction_id)
    if timeout < 0:
        raise ValueError("`timeout` must be 0 or more seconds")
    if sleep <= 0:
        raise ValueError("`sleep` must be more than 0 seconds")
    deadline = time.monotonic() + timeout
    while True:
        prediction = yield from get(pid)
        if prediction.status == "completed":
            return prediction
        if prediction.status == "failed":
            raise PredictionFailedError(prediction)
        left = deadline - time.monotonic()
        if left <= 0:
            raise PredictionTimeoutError(prediction, timeout)
        yield Sleep(min(sleep, left))


class ListPager:
    """The paging state of ``predictions.list()``, shared by the sync and async lists.

    The wire pages by ``skip``/``limit`` over a newest-first list, so a prediction submitted
    while we page shifts the rest by one: ids already seen are skipped, so nothing repeats.
    Only an empty page ends the walk: a server whose largest page is under ``LIST_PAGE``
    answers short pages that are not the last."""

    def __init__(self, skip: int, limit: int | None) -> None:
        if skip < 0:
            raise ValueError("`skip` must be 0 or more")
        if limit is not None and limit < 1:
            raise ValueError("`limit` must be 1 or more (or None for every prediction)")
        self.skip, self.limit = skip, limit
        self.seen: set[str] = set()
        self.count = 0
        self.done = False

    def next_request(self) -> RequestOptions | None:
        want = LIST_PAGE if self.limit is None else min(LIST_PAGE, self.limit - self.count)
        if self.done or want <= 0:
            self.done = True
            return None
        return RequestOptions("GET", "predictions", params={"skip": self.skip, "limit": want})

    def accept(self, data: Any) -> list[Prediction]:
        if not isinstance(data, list):
            raise VlmFilesError(f"GET predictions answered {type(data).__name__}, not a list")
        page = [_prediction(item, "GET predictions") for item in data]
        self.skip += len(page)
        if not page:
            self.done = True
        fresh = [p for p in page if p.id not in self.seen]
        if self.limit is not None:
            fresh = fresh[: self.limit - self.count]
        self.seen.update(p.id for p in fresh)
        self.count += len(fresh)
        return fresh
