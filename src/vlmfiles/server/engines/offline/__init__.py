"""The offline engine (pypdfium2 + tesseract): see ``engine.py`` and docs/engines.md."""

from .engine import DOMAINS, OfflineEngine

__all__ = ["DOMAINS", "OfflineEngine"]
