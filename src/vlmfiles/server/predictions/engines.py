"""Which engine serves which domain: the engines named by ``Settings.prediction_engines``."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from ..engines.base import Engine


def load_engine(spec: str) -> Engine:
    """``module:Class`` → an instance (the class takes no arguments)."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"an engine is named as module:Class, got {spec!r}")
    engine: Engine = getattr(importlib.import_module(module_name), attr)()
    return engine


class EngineSet:
    """The engines of one process; the first that serves a domain runs it."""

    def __init__(self, engines: Sequence[Engine]) -> None:
        self.engines = list(engines)
        self.domains: dict[str, str] = {}
        self._by_domain: dict[str, Engine] = {}
        for engine in self.engines:
            for domain, description in engine.domains().items():
                if domain not in self._by_domain:
                    self._by_domain[domain] = engine
                    self.domains[domain] = description

    @classmethod
    def from_specs(cls, specs: Sequence[str]) -> EngineSet:
        return cls([load_engine(s) for s in specs])

    def for_domain(self, domain: str) -> Engine | None:
        return self._by_domain.get(domain)

    def listing(self) -> str:
        return ", ".join(sorted(self.domains))
