"""The ASGI application: wiring of settings, stores, service, routes and error handling."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from .._version import __version__
from .api_docs import install_api_docs
from .auth import RecentKeys
from .errors import install_error_handlers
from .malloc import return_large_buffers_to_the_os
from .metadata.migrate import current_revision, head_revision
from .metadata.store import open_metadata_store
from .middleware import ApiMiddleware
from .predictions.feedback import router as feedback_router
from .predictions.lifecycle import close_predictions, open_predictions
from .predictions.routes import router as predictions_router
from .redact import install as redact_log_records
from .responses import JSONResponse
from .routes.files import router
from .security import UrlSigner, load_or_create_secret
from .service import FileService
from .settings import Settings
from .storage import open_blob_store

log = logging.getLogger("vlmfiles.server")


class SchemaNotReady(RuntimeError):
    pass


async def build_service(settings: Settings) -> FileService:
    store = open_metadata_store(
        settings.resolved_database_url, pool_size=settings.database_pool_size
    )
    current = await current_revision(store.engine)
    if current != head_revision():
        await store.close()
        raise SchemaNotReady(
            f"The metadata database is at schema revision {current or 'none'}, not "
            f"{head_revision()}. Run `vlmfiles db upgrade --database-url ...` first."
        )
    secret = (
        settings.secret_key.encode()
        if settings.secret_key
        else load_or_create_secret(settings.data_dir)
    )
    return FileService(
        settings=settings,
        store=store,
        blobs=open_blob_store(settings.resolved_storage_url),
        signer=UrlSigner(secret, settings.resolved_public_url),
    )


async def _sweep_forever(service: FileService) -> None:
    while True:
        try:
            found = await service.sweep()
            if any(found.values()):
                log.info("sweep removed %s", found)
        except Exception:
            log.exception("sweep failed; retrying in %ss", service.settings.sweep_interval_seconds)
        await anyio.sleep(service.settings.sweep_interval_seconds)


def create_app(settings: Settings) -> FastAPI:
    redact_log_records()  # no signed URL in any log line (each worker builds its app)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        return_large_buffers_to_the_os()  # here: each worker process is its own allocator
        service = await build_service(settings)
        app.state.service = service
        app.state.predictions = await open_predictions(service)
        async with anyio.create_task_group() as tg:
            service.md5.start(tg)
            tg.start_soon(_sweep_forever, service)
            yield
            tg.cancel_scope.cancel()
        await close_predictions(app.state.predictions)
        await service.store.close()
        await anyio.to_thread.run_sync(service.blobs.close)

    app = FastAPI(
        title="vlmfiles",
        version=__version__,
        summary="A self-hostable implementation of the VLM Run Files API.",
        lifespan=lifespan,
        default_response_class=JSONResponse,  # routes that return a dict: the same encoder
        docs_url=None,  # served by api_docs, without a CDN
        redoc_url=None,
    )
    app.add_middleware(ApiMiddleware)
    install_error_handlers(app)
    app.include_router(router)
    install_api_docs(app, settings)
    app.include_router(predictions_router)
    app.include_router(feedback_router)
    app.state.recent_keys = RecentKeys(ttl=settings.recent_keys_seconds)  # one per process

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
