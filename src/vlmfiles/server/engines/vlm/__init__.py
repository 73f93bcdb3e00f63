"""The model engine: any OpenAI-compatible vision-language model (see ``engine.py``)."""

from .client import ChatClient
from .engine import VlmEngine

__all__ = ["ChatClient", "VlmEngine"]
