"""Which engine serves which domain: the engines named by ``Settings.prediction_engines``,
the model engine when ``vlm_base_url`` is set, and ``engine_routes`` between them.

Precedence for a domain: a route naming it exactly, then the longest ``prefix.*`` route
that matches (``*`` matches every domain), then the model engine (when configured and it serves the domain), then the
first engine in ``prediction_engines`` that serves it. A request with ``config.json_schema``
goes to the model engine whatever the routes say: only a model can follow a schema it was
handed.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from ..engines.base import Engine
from ..settings import Settings


def load_engine(spec: str) -> Engine:
    """``module:Class`` → an instance (the class takes no arguments)."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"an engine is named as module:Class, got {spec!r}")
    engine: Engine = getattr(importlib.import_module(module_name), attr)()
    return engine


def _route_for(domain: str, routes: Mapping[str, str]) -> str | None:
    if domain in routes:
        return routes[domain]
    best: tuple[int, str] | None = None
    for pattern, name in routes.items():
        if pattern == "*" or (pattern.endswith(".*") and domain.startswith(pattern[:-1])):
            if best is None or len(pattern) > best[0]:
                best = (len(pattern), name)
    return best[1] if best else None


class EngineSet:
    """The engines of one process and which of them runs each domain."""

    def __init__(
        self,
        engines: Sequence[Engine],
        routes: Mapping[str, str] | None = None,
        model: Engine | None = None,
    ) -> None:
        self.engines = [*engines, *([model] if model is not None else [])]
        self.model = model  # serves custom domains (config.json_schema) when set
        by_name = {e.name: e for e in self.engines}
        routes = dict(routes or {})
        for pattern, name in routes.items():
            if name not in by_name:
                raise ValueError(
                    f"engine_routes sends {pattern!r} to {name!r}, but the engines here are "
                    f"{', '.join(sorted(by_name))}"
                )
        self.domains: dict[str, str] = {}
        self._by_domain: dict[str, Engine] = {}
        candidates = ([model] if model is not None else []) + list(engines)
        for engine in candidates:
            for domain, description in engine.domains().items():
                self.domains.setdefault(domain, description)
        for domain in self.domains:
            routed = _route_for(domain, routes)
            if routed is not None and domain in by_name[routed].domains():
                self._by_domain[domain] = by_name[routed]
                continue
            self._by_domain[domain] = next(e for e in candidates if domain in e.domains())

    @classmethod
    def from_specs(cls, specs: Sequence[str]) -> EngineSet:
        return cls([load_engine(s) for s in specs])

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineSet:
        model = None
        if settings.vlm_base_url:
            from ..engines.vlm import VlmEngine

            model = VlmEngine.from_settings(settings)
        engines = [load_engine(s) for s in settings.prediction_engines]
        return cls(engines, settings.engine_routes, model)

    def for_domain(self, domain: str, config: Mapping[str, Any] | None = None) -> Engine | None:
        if self.model is not None and isinstance((config or {}).get("json_schema"), dict):
            return self.model
        return self._by_domain.get(domain)

    def name_for(self, domain: str) -> str | None:
        engine = self._by_domain.get(domain)
        return engine.name if engine is not None else None

    def listing(self) -> str:
        return ", ".join(sorted(self.domains))
