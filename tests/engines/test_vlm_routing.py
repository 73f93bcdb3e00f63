"""Which engine runs a domain (server/predictions/engines.py), and the per-process bound on
requests in flight to the model endpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.support.fake_openai import FakeOpenAI
from vlmfiles.server.engines.base import EngineInput, EngineResult, Limits
from vlmfiles.server.engines.vlm import ChatClient, VlmEngine
from vlmfiles.server.predictions.engines import EngineSet


class Named:
    def __init__(self, name: str, domains: Sequence[str]) -> None:
        self.name = name
        self._domains = {d: name for d in domains}

    def domains(self) -> Mapping[str, str]:
        return self._domains

    def run(self, domain: str, inputs: Any, config: Any, limits: Limits) -> EngineResult:
        raise AssertionError("not run here")


OFFLINE = Named("offline", ["document.markdown", "document.invoice", "image.classification"])
MODEL = Named("vlm", ["document.markdown", "document.invoice", "document.receipt"])


def picked(routes: dict[str, str], domain: str, config: Any = None, model: Any = MODEL) -> str:
    engine = EngineSet([OFFLINE], routes, model).for_domain(domain, config)
    assert engine is not None
    return engine.name


def test_the_model_engine_takes_what_it_serves_unless_routed() -> None:
    assert picked({}, "document.invoice") == "vlm"
    assert picked({}, "image.classification") == "offline"  # the model does not serve it
    assert picked({}, "document.invoice", model=None) == "offline"


def test_exact_route_beats_pattern_and_longest_pattern_wins() -> None:
    routes = {"document.*": "offline", "document.markdown": "vlm"}
    assert picked(routes, "document.markdown") == "vlm"
    assert picked(routes, "document.invoice") == "offline"
    assert picked({"*": "offline", "document.*": "vlm"}, "document.invoice") == "vlm"
    assert picked({"*": "offline"}, "document.invoice") == "offline"
    # Routed to an engine that does not serve the domain: the usual precedence.
    assert picked({"document.*": "offline"}, "document.receipt") == "vlm"


def test_a_custom_schema_goes_to_the_model_whatever_the_routes() -> None:
    config = {"json_schema": {"type": "object"}}
    assert picked({"document.*": "offline"}, "document.invoice", config) == "vlm"
    assert EngineSet([OFFLINE], {}, MODEL).for_domain("acme.thing", config) is MODEL
    assert EngineSet([OFFLINE], {}, None).for_domain("acme.thing", config) is None


def test_a_route_to_an_unknown_engine_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="sends 'document.\\*' to 'gpu'.*offline, vlm"):
        EngineSet([OFFLINE], {"document.*": "gpu"}, MODEL)


def test_requests_in_flight_are_bounded_per_process(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGB", (64, 64), "white").save(path)
    item = EngineInput(path, "image/png", "a.png")
    with FakeOpenAI(latency=0.3) as fake:
        client = ChatClient(
            fake.base_url, fake.model, fake.api_key, max_concurrency=2, timeout=10, max_attempts=1
        )
        engine = VlmEngine(client)
        errors: list[BaseException] = []

        def one() -> None:
            try:
                limits = Limits(10, 10_000_000, time.monotonic() + 60)
                engine.run("document.invoice", [item], {}, limits)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        engine.close()
        assert errors == []
        assert len(fake.requests) == 6 and fake.peak_in_flight <= 2
