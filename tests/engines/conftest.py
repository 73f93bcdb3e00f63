"""The offline engine, in-process: engines are plain code (no server needed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vlmfiles.server.engines import EngineInput, EngineResult, Limits, OfflineEngine

MEDIA = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".txt": "text/plain",
}


def limits(**kw: Any) -> Limits:
    base: dict[str, Any] = {
        "max_pages": 500,
        "max_pixels": 50_000_000,
        "deadline": time.monotonic() + 120,
    }
    return Limits(**{**base, **kw})


@pytest.fixture(scope="session")
def engine() -> OfflineEngine:
    return OfflineEngine()


@pytest.fixture
def run(engine: OfflineEngine) -> Callable[..., EngineResult]:
    """run(domain, *paths, config={}, **limits) -> EngineResult"""

    def _run(
        domain: str, *paths: Path, config: dict[str, Any] | None = None, **kw: Any
    ) -> EngineResult:
        inputs = [EngineInput(p, MEDIA[p.suffix], p.name) for p in paths]
        return engine.run(domain, inputs, config or {}, limits(**kw))

    return _run
