"""Engines: what turns input files into a prediction's response (see ``base.py``)."""

from .base import (
    Engine,
    EngineError,
    EngineInput,
    EngineResult,
    InputRejected,
    JobTimeout,
    Limits,
    ModelUnavailable,
)
from .offline import OfflineEngine

__all__ = [
    "Engine",
    "EngineError",
    "EngineInput",
    "EngineResult",
    "InputRejected",
    "JobTimeout",
    "Limits",
    "ModelUnavailable",
    "OfflineEngine",
]
