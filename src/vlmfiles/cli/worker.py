"""``vlmfiles worker``: runs prediction jobs from the Redis broker (the scale stack)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Any

import typer

from .options import (
    SETTINGS_EPILOG,
    ConfigFile,
    DatabaseUrl,
    DataDir,
    StorageUrl,
    VlmApiKey,
    VlmBaseUrl,
    VlmModel,
    setting,
)
from .server import _settings

worker_app = typer.Typer(add_completion=False)


@worker_app.command(epilog=SETTINGS_EPILOG)
def worker(
    queue_url: Annotated[
        str | None, setting("--queue-url", help="The servers' job broker: redis://HOST:PORT/DB.")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            help="Jobs run at once.",
            envvar="VLMFILES_WORKER_THREADS",
            show_envvar=True,
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    allow_private_urls: Annotated[
        bool | None,
        typer.Option(
            "--allow-private-urls/--no-allow-private-urls",
            help="Fetch input URLs on loopback/private addresses too.",
        ),
    ] = None,
    vlm_base_url: VlmBaseUrl = None,
    vlm_model: VlmModel = None,
    vlm_api_key: VlmApiKey = None,
    config: ConfigFile = None,
) -> None:
    """Run prediction jobs from the broker until stopped (SIGTERM or Ctrl-C)."""
    settings = _settings(
        config,
        queue_url=queue_url,
        worker_threads=threads,
        data_dir=data_dir,
        database_url=database_url,
        storage_url=storage_url,
        allow_private_urls=allow_private_urls,
        vlm_base_url=vlm_base_url,
        vlm_model=vlm_model,
        vlm_api_key=vlm_api_key,
    )
    if not settings.queue_url:
        typer.echo(
            "No queue URL: the embedded default runs its jobs inside `vlmfiles serve`. "
            "Give --queue-url redis://HOST:PORT/DB (the same as the servers').",
            err=True,
        )
        raise typer.Exit(2)
    _run(settings)


def _run(settings: Any) -> None:
    from vlmfiles.server.metadata.migrate import current_revision_sync, head_revision
    from vlmfiles.server.predictions.queue import Queue

    current = current_revision_sync(settings.resolved_database_url)
    if current != head_revision():
        typer.echo(
            f"The database is at schema revision {current or 'none'}, not {head_revision()}. "
            "Run `vlmfiles db upgrade` first.",
            err=True,
        )
        raise typer.Exit(1)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    queue = Queue(settings)
    queue.start_worker()
    typer.echo(f"worker: {settings.worker_threads} threads on {settings.queue_url}", err=True)
    try:
        stop.wait()
    finally:
        queue.stop()


__all__ = ["worker_app"]
