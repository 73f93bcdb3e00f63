"""Server-side commands: ``serve``, ``keys``, ``db``, ``fsck``. They need the ``[server]``
extra, and all take the same connection settings (``cli/options.py``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from .options import (
    SETTINGS_EPILOG,
    ConfigFile,
    CreateDataDir,
    DatabaseUrl,
    DataDir,
    StorageUrl,
    VlmApiKey,
    VlmBaseUrl,
    VlmModel,
    setting,
)

server_app = typer.Typer(add_completion=False)
keys_app = typer.Typer(
    help="Create, list and revoke API keys.", no_args_is_help=True, epilog=SETTINGS_EPILOG
)
db_app = typer.Typer(
    help="Manage the metadata database schema.", no_args_is_help=True, epilog=SETTINGS_EPILOG
)

# The top-level modules of the [server] extra: a missing one means the extra is not
# installed; any other import error is a real error and is raised as such.
SERVER_EXTRA_MODULES = frozenset(
    {
        "fastapi",
        "starlette",
        "multipart",
        "python_multipart",
        "uvicorn",
        "sqlalchemy",
        "alembic",
        "aiosqlite",
        "asyncpg",
        "filetype",
        "boto3",
        "botocore",
        "pydantic_settings",
        "orjson",
        "platformdirs",
        "swagger_ui_bundle",
    }
)


def _server_modules() -> Any:
    try:
        from vlmfiles.server import settings  # noqa: F401
        from vlmfiles.server.metadata import migrate, store  # noqa: F401
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_EXTRA_MODULES:
            raise
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


def _connection(
    config: Path | None, data_dir: Path | None, database_url: str | None, storage_url: str | None
) -> dict[str, Any]:
    return dict(
        config=config, data_dir=data_dir, database_url=database_url, storage_url=storage_url
    )


def _has_data(settings: Any) -> bool:
    url = settings.resolved_database_url
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists()


def _note_old_default(settings: Any) -> None:
    # Before the per-user default, the data dir was ./vlmfiles-data: say where it went.
    settings_mod, _, _ = _server_modules()
    old = Path("vlmfiles-data")
    default = settings_mod.default_data_dir().resolve()
    if settings.data_dir.resolve() == default and (old / "metadata.sqlite3").exists():
        typer.echo(
            f"note: ./{old} holds vlmfiles data from an earlier version, which used it by "
            f"default; the default is now {default}. Pass --data-dir {old} to use it.",
            err=True,
        )


def _require_data(settings: Any, create: bool | None) -> None:
    """Refuse a data dir that holds no vlmfiles data, unless asked to create one (``create``
    None: the command cannot): run from another directory or with a mistyped path, a
    command would otherwise make a second, empty data dir and work on it (a key the server
    rejects, an fsck of nothing)."""
    settings_mod, _, _ = _server_modules()
    where = settings.data_dir.resolve()
    if settings.resolved_database_url.startswith("sqlite:///"):
        typer.echo(f"data dir: {where}", err=True)
    _note_old_default(settings)
    if create or _has_data(settings):
        return
    default = settings_mod.default_data_dir().resolve()
    hint = (
        "Start the server once (`vlmfiles serve`) to create it"
        if where == default
        else "Pass the data dir the server uses (--data-dir, VLMFILES_DATA_DIR or --config)"
    )
    if create is not None:
        hint += ", or add --create-data-dir to start a new, empty one there"
    database = Path(settings.resolved_database_url.removeprefix("sqlite:///"))
    typer.echo(f"error: no vlmfiles data in {where} (no {database}). {hint}.", err=True)
    raise typer.Exit(1)


def _prepare_database(settings: Any) -> None:
    """The embedded default needs no set-up: a new SQLite database is created at the
    current schema. Anything else that is not at the current schema is refused."""
    _, migrate, _ = _server_modules()
    url = settings.resolved_database_url
    current = migrate.current_revision_sync(url) if _has_data(settings) else None
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


def _redact(url: str) -> str:
    from .startup import redact

    return redact(url)


@server_app.command(epilog=SETTINGS_EPILOG)
def serve(
    host: Annotated[
        str | None, setting("--host", help="Address to listen on.", default="127.0.0.1")
    ] = None,
    port: Annotated[
        int | None, setting("--port", help="Port to listen on.", default="8000")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    public_url: Annotated[
        str | None,
        setting(
            "--public-url",
            help="Base URL clients reach this server at; signed URLs are built on it.",
            default="http://HOST:PORT",
        ),
    ] = None,
    workers: Annotated[
        int | None, setting("--workers", help="Server processes.", default="1")
    ] = None,
    max_file_size: Annotated[
        int | None,
        setting("--max-file-size", help="Largest file, in bytes.", default="5 GiB"),
    ] = None,
    allow_private_urls: Annotated[
        bool | None,
        typer.Option(
            "--allow-private-urls/--no-allow-private-urls",
            help="Let prediction input URLs reach loopback/private addresses.",
        ),
    ] = None,
    vlm_base_url: VlmBaseUrl = None,
    vlm_model: VlmModel = None,
    vlm_api_key: VlmApiKey = None,
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
        allow_private_urls=allow_private_urls,
        vlm_base_url=vlm_base_url,
        vlm_model=vlm_model,
        vlm_api_key=vlm_api_key,
    )
    settings = _settings(config, **flags)
    # Workers rebuild the settings from the environment: hand the flags down that way.
    for name, value in flags.items():
        if value is not None:
            os.environ[f"VLMFILES_{name.upper()}"] = str(value)
    _note_old_default(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _prepare_database(settings)
    if settings.resolved_database_url.startswith("sqlite"):
        # Embedded: no other process commits uploads yet, so bytes a crash left without a
        # record can be told apart and removed before the workers start.
        asyncio.run(_startup_sweep(settings))
    new_key = None
    if _with_store(settings, lambda store: store.count_active_keys()) == 0:
        new_key, _ = _with_store(settings, lambda store: store.create_key("default"))
    from .startup import start_lines

    settings_mod, _, _ = _server_modules()
    for line in start_lines(settings, settings_mod.default_data_dir(), new_key):
        typer.echo(line, err=True)
    import uvicorn

    uvicorn.run(
        "vlmfiles.server.asgi:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="vlmfiles.server.loop:Loop" if settings.accept_all_waiting else "auto",
        http="vlmfiles.server.protocol:GuardedHttpToolsProtocol",  # header limits, timeouts
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.idle_timeout_seconds,
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


def _store_settings(create: bool | None, **connection: Any) -> Any:
    settings = _settings(**connection)
    _require_data(settings, create)
    _prepare_database(settings)
    return settings


@keys_app.command("create", epilog=SETTINGS_EPILOG)
def keys_create(
    tenant: Annotated[
        str, typer.Option(help="Tenant the key belongs to (created if new).")
    ] = "default",
    create_data_dir: CreateDataDir = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    config: ConfigFile = None,
) -> None:
    """Print a new API key, and only the key, on stdout."""
    settings = _store_settings(
        create_data_dir, **_connection(config, data_dir, database_url, storage_url)
    )
    key, _ = _with_store(settings, lambda store: store.create_key(tenant))
    typer.echo(key)


@keys_app.command("revoke", epilog=SETTINGS_EPILOG)
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key, or its first 12 characters.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    config: ConfigFile = None,
) -> None:
    """Revoke a key: it stops working at once, on every server process."""
    settings = _store_settings(None, **_connection(config, data_dir, database_url, storage_url))
    n = _with_store(settings, lambda store: store.revoke_key(key))
    if n == 0:
        typer.echo("No active key matches.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Revoked {n} key(s).", err=True)


@keys_app.command("list", epilog=SETTINGS_EPILOG)
def keys_list(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    config: ConfigFile = None,
) -> None:
    """List keys by prefix (keys themselves are stored hashed and cannot be shown)."""
    settings = _store_settings(None, **_connection(config, data_dir, database_url, storage_url))
    for row in _with_store(settings, lambda store: store.list_keys()):
        state = "revoked" if row["revoked_us"] else "active"
        typer.echo(f"{row['prefix']}…  tenant={row['tenant']}  {state}")


@db_app.command("upgrade", epilog=SETTINGS_EPILOG)
def db_upgrade(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    config: ConfigFile = None,
) -> None:
    """Migrate the metadata database to the current schema (creating it if new)."""
    settings = _settings(**_connection(config, data_dir, database_url, storage_url))
    _, migrate, _ = _server_modules()
    if settings.resolved_database_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    typer.echo(f"Database at revision {migrate.head_revision()}.", err=True)


@server_app.command(epilog=SETTINGS_EPILOG)
def fsck(
    repair: Annotated[
        bool, typer.Option(help="Delete orphans, release unreferenced blobs.")
    ] = False,
    verify_hashes: Annotated[
        bool, typer.Option(help="Re-hash every blob (reads everything).")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    config: ConfigFile = None,
) -> None:
    """Check that metadata and blobs agree. Exit 0 when clean, 1 when problems remain."""
    settings = _store_settings(None, **_connection(config, data_dir, database_url, storage_url))
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
