"""Server-side commands: ``serve``, ``keys``, ``db``. They need the ``[server]`` extra."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer

server_app = typer.Typer(add_completion=False)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the metadata database schema.", no_args_is_help=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory [env VLMFILES_DATA_DIR].")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="sqlite:///PATH or postgresql://... [env VLMFILES_DATABASE_URL]."
    ),
]
ConfigFile = Annotated[
    Path | None, typer.Option("--config", help="A TOML settings file [env VLMFILES_CONFIG].")
]


def _server_modules() -> Any:
    try:
        from vlmfiles.server import settings  # noqa: F401
        from vlmfiles.server.metadata import migrate, store  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        typer.echo(
            f"The server is not installed ({exc.name} is missing). "
            "Install it with: pip install 'vlmfiles[server]'",
            err=True,
        )
        raise typer.Exit(2) from None
    return settings, migrate, store


def _settings(config: Path | None = None, **flags: Any) -> Any:
    settings_mod, _, _ = _server_modules()
    if config is not None:
        os.environ["VLMFILES_CONFIG"] = str(config)
    try:
        return settings_mod.load_settings(**flags)
    except Exception as exc:
        typer.echo(f"Invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None


def _prepare_database(settings: Any) -> None:
    """The embedded default needs no set-up: a new SQLite database is created at the
    current schema. Anything else that is not at the current schema is refused."""
    _, migrate, _ = _server_modules()
    url = settings.resolved_database_url
    current = migrate.current_revision_sync(url) if _db_exists(url) else None
    if current == migrate.head_revision():
        return
    if current is None and url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(url)
        return
    typer.echo(
        f"The database {_redact(url)} is at schema revision {current or 'none'}, not "
        f"{migrate.head_revision()}. Run: vlmfiles db upgrade --database-url '{_redact(url)}'",
        err=True,
    )
    raise typer.Exit(1)


def _db_exists(url: str) -> bool:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).exists()
    return True


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@server_app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [default 8000].")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: Annotated[
        str | None, typer.Option(help="file:///PATH or s3://BUCKET?endpoint=URL.")
    ] = None,
    public_url: Annotated[
        str | None, typer.Option(help="Base URL clients use; signed URLs are built on it.")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Server processes [default 1].")] = None,
    max_file_size: Annotated[int | None, typer.Option(help="Largest file in bytes.")] = None,
    config: ConfigFile = None,
) -> None:
    """Run the Files API server (embedded SQLite + local disk unless told otherwise)."""
    flags = dict(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        storage_url=storage_url,
        public_url=public_url,
        workers=workers,
        max_file_size=max_file_size,
    )
    settings = _settings(config, **flags)
    # Workers rebuild the settings from the environment: hand the flags down that way.
    for name, value in flags.items():
        if value is not None:
            os.environ[f"VLMFILES_{name.upper()}"] = str(value)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _prepare_database(settings)
    if settings.resolved_database_url.startswith("sqlite"):
        # Embedded: no other process commits uploads yet, so bytes a crash left without a
        # record can be told apart and removed before the workers start.
        asyncio.run(_startup_sweep(settings))
    if _with_store(settings, lambda store: store.count_active_keys()) == 0:
        key, _ = _with_store(settings, lambda store: store.create_key("default"))
        base = settings.resolved_public_url + "/v1"
        typer.echo(
            "\nNo API key existed, so one was created for tenant 'default'. Use it with:\n\n"
            f"    export VLMRUN_API_KEY={key}\n    export VLMRUN_BASE_URL={base}\n\n"
            "(`vlmfiles keys create` makes more; this one is not shown again.)\n",
            err=True,
        )
    import uvicorn

    uvicorn.run(
        "vlmfiles.server.asgi:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="vlmfiles.server.loop:Loop" if settings.accept_all_waiting else "auto",
        limit_concurrency=settings.max_connections,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )


async def _startup_sweep(settings: Any) -> None:
    from vlmfiles.server.app import build_service

    service = await build_service(settings)
    try:
        found = await service.sweep(orphans=True)
        if any(found.values()):
            typer.echo(f"Cleaned up after an earlier run: {found}", err=True)
    finally:
        await service.store.close()


def _with_store(settings: Any, call: Any) -> Any:
    """Run ``await call(store)`` on the settings' metadata store, then close it."""
    _, _, store_mod = _server_modules()

    async def go() -> Any:
        store = store_mod.open_metadata_store(
            settings.resolved_database_url, pool_size=settings.database_pool_size
        )
        try:
            return await call(store)
        finally:
            await store.close()

    return asyncio.run(go())


@keys_app.command("create")
def keys_create(
    tenant: Annotated[
        str, typer.Option(help="Tenant the key belongs to (created if new).")
    ] = "default",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Print a new API key, and only the key, on stdout."""
    settings = _settings(config, data_dir=data_dir, database_url=database_url)
    _prepare_database(settings)
    key, _ = _with_store(settings, lambda store: store.create_key(tenant))
    typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key, or its first 12 characters.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Revoke a key: it stops working at once, on every server process."""
    settings = _settings(config, data_dir=data_dir, database_url=database_url)
    _prepare_database(settings)
    n = _with_store(settings, lambda store: store.revoke_key(key))
    if n == 0:
        typer.echo("No active key matches.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Revoked {n} key(s).", err=True)


@keys_app.command("list")
def keys_list(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, config: ConfigFile = None
) -> None:
    """List keys by prefix (keys themselves are stored hashed and cannot be shown)."""
    settings = _settings(config, data_dir=data_dir, database_url=database_url)
    _prepare_database(settings)
    for row in _with_store(settings, lambda store: store.list_keys()):
        state = "revoked" if row["revoked_us"] else "active"
        typer.echo(f"{row['prefix']}…  tenant={row['tenant']}  {state}")


@db_app.command("upgrade")
def db_upgrade(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, config: ConfigFile = None
) -> None:
    """Migrate the metadata database to the current schema."""
    settings = _settings(config, data_dir=data_dir, database_url=database_url)
    _, migrate, _ = _server_modules()
    if settings.resolved_database_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    typer.echo(f"Database at revision {migrate.head_revision()}.", err=True)


@server_app.command()
def fsck(
    repair: Annotated[
        bool, typer.Option(help="Delete orphans, release unreferenced blobs.")
    ] = False,
    verify_hashes: Annotated[
        bool, typer.Option(help="Re-hash every blob (reads everything).")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: Annotated[str | None, typer.Option(help="Blob store URL.")] = None,
    config: ConfigFile = None,
) -> None:
    """Check that metadata and blobs agree. Exit 0 when clean, 1 when problems remain."""
    settings = _settings(
        config, data_dir=data_dir, database_url=database_url, storage_url=storage_url
    )
    _prepare_database(settings)
    from vlmfiles.server.app import build_service
    from vlmfiles.server.fsck import fsck as run_fsck

    async def go() -> Any:
        service = await build_service(settings)
        try:
            return await run_fsck(service, verify_hashes=verify_hashes, repair=repair)
        finally:
            await service.store.close()

    report = asyncio.run(go())
    for line in report.problems:
        typer.echo(f"problem: {line}")
    for line in report.repaired:
        typer.echo(f"repaired: {line}")
    remaining = len(report.problems) - len(report.repaired)
    typer.echo(
        f"checked {report.checked_blobs} blob(s): {len(report.problems)} problem(s), "
        f"{len(report.repaired)} repaired"
    )
    if remaining > 0:
        raise typer.Exit(1)


server_app.add_typer(keys_app, name="keys")
server_app.add_typer(db_app, name="db")
