"""``vlmfiles files ...``: the Files API from the shell, on the SDK.

Tables for people, ``--json`` for scripts; progress bars (speed, ETA) only when stdout is a
terminal. Exit codes: 0 success; 1 the API refused or could not be reached, or a download
came out damaged; 2 usage error (bad option, no API key); 3 a local file or directory that
does not exist. Errors are one line on stderr. Ids, URLs and hashes are never cut to fit
the terminal: other columns are dropped first (``_table.py``).
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args

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

from .._units import human_bytes
from ..exceptions import APIConnectionError, ApiError, PayloadTooLargeError, VlmFilesError
from ..types.file_response import FilePurpose
from ._table import file_fields, files_table

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
# An Enum, so typer checks --purpose before any request and --help lists the seven.
Purpose = enum.Enum("Purpose", {p: p for p in get_args(FilePurpose)}, type=str)  # type: ignore[misc]
DEFAULT_PURPOSE = Purpose("assistants")
DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


@dataclass
class Settings:
    api_key: str | None
    base_url: str | None

    def client(self) -> Any:
        from .. import Client

        return Client(api_key=self.api_key, base_url=self.base_url)

    @property
    def shown_base_url(self) -> str:
        return (
            self.base_url
            or os.environ.get("VLMFILES_BASE_URL")
            or os.environ.get("VLMRUN_BASE_URL")
            or DEFAULT_BASE_URL
        )


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
            help="API base URL, ending in /v1.",
            show_default=DEFAULT_BASE_URL,
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
def _errors(settings: Settings) -> Iterator[None]:
    """Turn SDK and local errors into one line on stderr and the documented exit code."""
    try:
        yield
    except APIConnectionError as exc:
        raise _fail(_unreachable(exc, settings.shown_base_url), API_ERROR) from None
    except ApiError as exc:
        raise _fail(str(exc), API_ERROR) from None
    except VlmFilesError as exc:
        raise _fail(str(exc), USAGE_ERROR) from None
    except FileNotFoundError as exc:
        raise _fail(str(exc), LOCAL_FILE_MISSING) from None
    except (OSError, ValueError, TypeError) as exc:
        raise _fail(str(exc), USAGE_ERROR) from None


def _unreachable(exc: APIConnectionError, base: str) -> str:
    """Say which server is down and how to check, not which request failed."""
    if exc.message.startswith("Request timed out"):
        return f"The server at {base} did not answer in time ({exc.message})."
    return (
        f"The server at {base} is not reachable. Is it running? Check with: "
        f"curl {base.rstrip('/')}/health  (start one with `vlmfiles serve`; another address: "
        "--base-url or VLMFILES_BASE_URL)"
    )


def _upload_error(path: Path, exc: Exception, base: str) -> str:
    if isinstance(exc, PayloadTooLargeError):
        size = human_bytes(path.stat().st_size)
        return f"{path}: the file is {size}, larger than this server accepts: {exc}"
    if isinstance(exc, APIConnectionError):
        return f"{path}: {_unreachable(exc, base)}"
    return f"{path}: {exc}"


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


def _show(files: Any, as_json: bool) -> None:
    if as_json:
        print(_dump(files))
    elif isinstance(files, list):
        out.print(files_table(files, out.width))
    else:
        # One "field  value" line each, never cut: a URL or hash stays whole to copy.
        for name, value in file_fields(files):
            out.print(f"{name:<16}{value}", soft_wrap=True, highlight=False, markup=False)


@files_app.command()
def upload(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files to upload.")],
    purpose: Annotated[
        Purpose, typer.Option("--purpose", "-p", help="Purpose of the files.")
    ] = DEFAULT_PURPOSE,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Uploads at once.")
    ] = 4,
    as_json: JsonFlag = False,
) -> None:
    """Upload files (a file the server already has is not sent again)."""
    for path in paths:
        if not path.is_file():
            raise _fail(f"No such file: {path}", LOCAL_FILE_MISSING)
    with _errors(ctx.obj):
        client = ctx.obj.client()
    done: list[Any] = []
    failed = 0
    with client, _progress() as progress:

        def one(path: Path) -> Any:
            task = progress.add_task(path.name, total=path.stat().st_size)

            def on_progress(sent: int, total: int | None) -> None:
                progress.update(task, completed=sent, total=total)

            try:
                return client.files.upload(path, purpose=purpose.value, on_progress=on_progress)
            finally:
                progress.remove_task(task)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = [(path, pool.submit(one, path)) for path in paths]
            for path, future in futures:
                try:
                    done.append(future.result())
                except (VlmFilesError, OSError, ValueError) as exc:
                    failed += 1
                    _error_line(_upload_error(path, exc, client.base_url))
    if done or as_json:  # no empty table when every upload failed
        _show(done, as_json)
    if failed:
        raise typer.Exit(API_ERROR)


@files_app.command("list")
def list_(
    ctx: typer.Context,
    purpose: Annotated[
        Purpose | None,
        typer.Option("--purpose", "-p", help="Only this purpose."),
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
    with _errors(ctx.obj), ctx.obj.client() as client:
        files = list(
            client.files.list(
                limit=None if all_ else limit, purpose=purpose.value if purpose else None
            )
        )
    _show(files, as_json)


@files_app.command()
def get(
    ctx: typer.Context, file_id: Annotated[str, typer.Argument()], as_json: JsonFlag = False
) -> None:
    """Show one file."""
    with _errors(ctx.obj), ctx.obj.client() as client:
        _show(client.files.get(file_id), as_json)


@files_app.command()
def download(
    ctx: typer.Context,
    file_id: Annotated[str, typer.Argument()],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File, or directory (an existing one, or any PATH ending in /, created if "
            "missing). Default: the file's name, here.",
        ),
    ] = None,
) -> None:
    """Download a file (resumes an interrupted download from PATH.part)."""
    target = _download_target(output)
    with _errors(ctx.obj):
        client = ctx.obj.client()
    with _errors(ctx.obj), client, _progress() as progress:
        task = progress.add_task(file_id, total=None)

        def on_progress(got: int, total: int | None) -> None:
            progress.update(task, completed=got, total=total)

        try:
            path = client.files.download(file_id, target, on_progress=on_progress)
        except ApiError:
            raise
        except VlmFilesError as exc:  # the bytes did not match their sha256
            raise _fail(str(exc), API_ERROR) from None
    print(path)


def _download_target(output: str | None) -> Path | None:
    """``-o`` as the user meant it: a trailing slash names a directory (created if
    missing); a file's directory must exist."""
    if output is None:
        return None
    path = Path(output)
    if output.endswith(("/", os.sep)):
        if path.exists() and not path.is_dir():
            raise _fail(f"{output} names a directory, but {path} is a file.", USAGE_ERROR)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fail(
                f"Cannot create the directory {output}: {exc.strerror}.", USAGE_ERROR
            ) from None
        return path
    if not path.is_dir() and not path.parent.is_dir():
        raise _fail(
            f"The directory {path.parent}/ does not exist, so {output} cannot be written. "
            f"Create it, or end -o with / to have it created.",
            LOCAL_FILE_MISSING,
        )
    return path


@files_app.command()
def delete(
    ctx: typer.Context, file_ids: Annotated[list[str], typer.Argument()], as_json: JsonFlag = False
) -> None:
    """Delete files."""
    deleted, failed = [], 0
    with _errors(ctx.obj), ctx.obj.client() as client:
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
    with _errors(ctx.obj), ctx.obj.client() as client:
        found = client.files.get_cached_file(path)
    if found is None and not as_json:
        out.print(f"Not cached: {path}", highlight=False)
        return
    _show(found, as_json)
