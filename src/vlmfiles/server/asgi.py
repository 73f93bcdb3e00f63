"""Entry point for uvicorn workers: ``vlmfiles.server.asgi:app_from_env`` (a factory).

``vlmfiles serve`` puts its flags into ``VLMFILES_*`` environment variables, so every
worker process builds the same settings."""

from __future__ import annotations

from fastapi import FastAPI

from .app import create_app
from .settings import Settings


def app_from_env() -> FastAPI:
    return create_app(Settings())
