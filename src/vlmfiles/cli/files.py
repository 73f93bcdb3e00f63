"""``vlmfiles files ...``: the Files API from the shell, on the SDK.

Tables for people, ``--json`` for scripts; progress bars (speed, ETA) only when stdout is a
terminal. Exit codes: 0 success; 1 the API refused or could not be reached; 2 usage error
(bad option, no API key); 3 a local file that does not exist. Errors are one line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ..exceptions import ApiError, VlmFilesError

files_app = typer.Typer(
    name="files",
    help=(
        "Upload, list, get, download and delete files "
        "(exit codes: 0 ok, 1 API error, 2 usage, 3 local file not found)."
    ),
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

API_ERROR, USAGE_ERROR, LOCAL_FILE_MISSING = 1, 2, 3
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@dataclass
class Settings:
    api_key: str | None
    base_url: str | None

    def client(self) -> Any:
        from .. import Client

        return Client(api_key=self.api_key, base_url=self.base_url)


@files_app.callback()
def _options(
    ctx: typer.Context,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar=["VLMFILES_API_KEY", "VLMRUN_API_KEY"], help="API key."),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            envvar=["VLMFILES_BASE_URL", "VLMRUN_BASE_URL"],
            help="API base URL (default http://127.0.0.1:8000/v1).",
        ),
    ] = None,
) -> None:
    ctx.obj = Settings(api_key, base_url)


def _fail(message: str, code: int) -> typer.Exit:
    _error_line(message)
    return typer.Exit(code)


def _error_line(message: str) -> None:
    # Escaped: a path or server message with [brackets] is text, not rich markup.
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn SDK and local errors into one line on stderr and the documented exit code."""
    try:
        yield
    except ApiError as exc:
        raise _fail(str(exc), API_ERROR) from None
    except VlmFilesError as exc:
        raise _fail(str(exc), USAGE_ERROR) from None
    except FileNotFoundError as exc:
        raise _fail(str(exc), LOCAL_FILE_MISSING) from None
    except (OSError, ValueError, TypeError) as exc:
        raise _fail(str(exc), USAGE_ERROR) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not sys.stdout.isatty(),
        transient=True,
    )


def _dump(files: Any) -> str:
    if isinstance(files, list):
        return json.dumps([f.model_dump(mode="json") for f in files], indent=2)
    return json.dumps(files.model_dump(mode="json") if files is not None else None, indent=2)


def _table(files: list[Any]) -> Table:
    table = Table("id", "filename", "bytes", "purpose", "created_at")
    for f in files:
        created = f.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        table.add_row(f.id, f.filename, str(f.bytes), f.purpose, created)
    return table


def _show(files: Any, as_json: bool) -> None:
    if as_json:
        print(_dump(files))
    elif isinstance(files, list):
        out.print(_table(files))
    else:
        table = Table("field", "value", show_header=False)
        for name, value in files.model_dump().items():
            table.add_row(name, "" if value is None else str(value))
        out.print(table)


@files_app.command()
def upload(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files to upload.")],
    purpose: Annotated[
        str, typer.Option("--purpose", "-p", help="Purpose of the files.")
    ] = "assistants",
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Uploads at once.")
    ] = 4,
    as_json: JsonFlag = False,
) -> None:
    """Upload files (a file the server already has is not sent again)."""
    for path in paths:
        if not path.is_file():
            raise _fail(f"No such file: {path}", LOCAL_FILE_MISSING)
    with _errors():
        client = ctx.obj.client()
    done: list[Any] = []
    failed = 0
    with client, _progress() as progress:

        def one(path: Path) -> Any:
            task = progress.add_task(path.name, total=path.stat().st_size)

            def on_progress(sent: int, total: int | None) -> None:
                progress.update(task, completed=sent, total=total)

            try:
                return client.files.upload(path, purpose=purpose, on_progress=on_progress)
            finally:
                progress.remove_task(task)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = [(path, pool.submit(one, path)) for path in paths]
            for path, future in futures:
                try:
                    done.append(future.result())
                except (VlmFilesError, OSError, ValueError) as exc:
                    failed += 1
                    _error_line(f"{path}: {exc}")
    _show(done, as_json)
    if failed:
        raise typer.Exit(API_ERROR)


@files_app.command("list")
def list_(
    ctx: typer.Context,
    purpose: Annotated[
        str | None, typer.Option("--purpose", "-p", help="Only this purpose.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="At most this many files.")
    ] = 20,
    all_: Annotated[
        bool, typer.Option("--all", "-a", help="Every file (ignores --limit).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List files, newest first."""
    with _errors(), ctx.obj.client() as client:
        files = list(client.files.list(limit=None if all_ else limit, purpose=purpose))
    _show(files, as_json)


@files_app.command()
def get(
    ctx: typer.Context, file_id: Annotated[str, typer.Argument()], as_json: JsonFlag = False
) -> None:
    """Show one file."""
    with _errors(), ctx.obj.client() as client:
        _show(client.files.get(file_id), as_json)


@files_app.command()
def download(
    ctx: typer.Context,
    file_id: Annotated[str, typer.Argument()],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File or directory (default: its name, here)."),
    ] = None,
) -> None:
    """Download a file (resumes an interrupted download from PATH.part)."""
    with _errors(), ctx.obj.client() as client, _progress() as progress:
        task = progress.add_task(file_id, total=None)

        def on_progress(got: int, total: int | None) -> None:
            progress.update(task, completed=got, total=total)

        path = client.files.download(file_id, output, on_progress=on_progress)
    print(path)


@files_app.command()
def delete(
    ctx: typer.Context, file_ids: Annotated[list[str], typer.Argument()], as_json: JsonFlag = False
) -> None:
    """Delete files."""
    deleted, failed = [], 0
    with _errors(), ctx.obj.client() as client:
        for file_id in file_ids:
            try:
                deleted.append(client.files.delete(file_id))
            except ApiError as exc:
                failed += 1
                _error_line(f"{file_id}: {exc}")
    if as_json:
        print(_dump(deleted))
    else:
        for f in deleted:
            out.print(f"Deleted {f.id} ({f.filename})", highlight=False)
    if failed:
        raise typer.Exit(API_ERROR)


@files_app.command()
def cached(
    ctx: typer.Context, path: Annotated[Path, typer.Argument()], as_json: JsonFlag = False
) -> None:
    """Show the stored file with the same content as PATH, if any (JSON: null if none)."""
    with _errors(), ctx.obj.client() as client:
        found = client.files.get_cached_file(path)
    if found is None and not as_json:
        out.print(f"Not cached: {path}", highlight=False)
        return
    _show(found, as_json)
