"""``vlmfiles generate`` and ``vlmfiles predictions ...``: predictions from the shell.

``generate`` uploads each FILE (or takes an http(s) URL as it is), submits one prediction
per file and, with ``--wait``, polls until each is done; a progress display (bytes uploaded,
predictions done, one line per file in flight) is drawn on stderr when stdout is a terminal.
Exit codes extend the ``files`` ones: 0 ok; 1 API error; 2 usage; 3 local file missing;
4 a prediction failed; 5 ``--wait`` ran out of time before a prediction was done.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from ..exceptions import ApiError, PredictionFailedError, PredictionTimeoutError, VlmFilesError
from .files import (
    API_ERROR,
    LOCAL_FILE_MISSING,
    JsonFlag,
    Settings,
    _error_line,
    _errors,
    _fail,
    err,
    out,
)

PREDICTION_FAILED, WAIT_TIMED_OUT = 4, 5
DEFAULT_TIMEOUT, DEFAULT_SLEEP = 600.0, 5.0

ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar=["VLMFILES_API_KEY", "VLMRUN_API_KEY"], help="API key."),
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar=["VLMFILES_BASE_URL", "VLMRUN_BASE_URL"],
        help="API base URL (default http://127.0.0.1:8000/v1).",
    ),
]
Timeout = Annotated[
    float,
    typer.Option("--timeout", min=0, help="With waiting: give up after this many seconds."),
]
Sleep = Annotated[
    float, typer.Option("--sleep", min=0.05, help="With waiting: seconds between polls.")
]

predictions_app = typer.Typer(
    name="predictions",
    help=(
        "List, show and wait for predictions "
        "(exit codes: 0 ok, 1 API error, 2 usage, 4 failed, 5 wait timed out)."
    ),
    no_args_is_help=True,
)


@predictions_app.callback()
def _options(ctx: typer.Context, api_key: ApiKey = None, base_url: BaseUrl = None) -> None:
    ctx.obj = Settings(api_key, base_url)


# Output ---------------------------------------------------------------------------------


def _summary(p: Any) -> str:
    if p.status == "failed":
        return p.reason or ""
    if p.response is None:
        return ""
    text = json.dumps(p.response, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:199] + "…"


def _table(predictions: list[Any], inputs: list[str] | None = None) -> Table:
    # Ids are never cut: their column is as wide as the longest id and does not wrap.
    width = max((len(p.id) for p in predictions), default=2)
    columns = [] if inputs is None else [Column("input", overflow="fold", min_width=8)]
    columns += [
        Column("id", min_width=width, no_wrap=True),
        Column("status", min_width=9, no_wrap=True),
        Column("domain", overflow="fold", min_width=8),
        Column("created_at", min_width=10, overflow="fold"),
        Column("result", overflow="fold", min_width=12, ratio=1),
    ]
    table = Table(*columns)
    for i, p in enumerate(predictions):
        created = p.created_at.strftime("%Y-%m-%d %H:%M:%S")
        row = [p.id, p.status, p.domain or "", created, _summary(p)]
        table.add_row(*([inputs[i]] if inputs is not None else []), *row)
    return table


def _print_table(table: Table) -> None:
    # On a narrow terminal the table runs wider than it rather than squeeze a column to
    # nothing: each column keeps its minimum width (an id's is its full length).
    needed = sum(c.min_width or 1 for c in table.columns) + 3 * len(table.columns) + 1
    if needed > out.width:
        table.width = needed
    out.print(table, crop=False)


def _dump(predictions: Any) -> str:
    if isinstance(predictions, list):
        return json.dumps([p.model_dump(mode="json") for p in predictions], indent=2)
    return json.dumps(predictions.model_dump(mode="json"), indent=2)


def _show_one(p: Any, as_json: bool) -> None:
    if as_json:
        print(_dump(p))
        return
    # The id is never cut: a value too long for the terminal folds onto the next line.
    table = Table("field", Column("value", overflow="fold"), show_header=False)
    for name, value in p.model_dump(mode="json").items():
        if name == "response" and value is not None:
            value = json.dumps(value, indent=2, ensure_ascii=False)
        elif isinstance(value, dict):
            value = json.dumps({k: v for k, v in value.items() if v is not None})
        table.add_row(name, "" if value is None else str(value))
    out.print(table)


class Outcome:
    """The worst thing that happened over many predictions, as an exit code."""

    def __init__(self) -> None:
        self.api_errors = self.failed = self.timed_out = 0

    def code(self) -> int:
        if self.api_errors:
            return API_ERROR
        if self.failed:
            return PREDICTION_FAILED
        return WAIT_TIMED_OUT if self.timed_out else 0


def _finish(client: Any, prediction: Any, wait: bool, timeout: float, sleep: float) -> Any:
    """Wait for ``prediction`` if asked; raise for a failed one (so it is counted)."""
    if wait and not prediction.done:
        return client.predictions.wait(prediction.id, timeout=timeout, sleep=sleep)
    if prediction.status == "failed":
        raise PredictionFailedError(prediction)
    return prediction


def _settle(
    label: str, outcome: Outcome, call: Callable[[], Any], on_done: Callable[[], None]
) -> Any:
    """Run ``call``; count and report what went wrong. The prediction, or None."""
    try:
        return call()
    except PredictionFailedError as exc:
        outcome.failed += 1
        _error_line(f"{label}: {exc}")
        return exc.prediction
    except PredictionTimeoutError as exc:
        outcome.timed_out += 1
        _error_line(f"{label}: {exc}")
        return exc.prediction
    except (VlmFilesError, OSError, ValueError, TypeError) as exc:
        outcome.api_errors += 1
        _error_line(f"{label}: {exc}")
        return None
    finally:
        on_done()


def _print_results(results: list[tuple[str, Any]], as_json: bool) -> None:
    shown = [(label, p) for label, p in results if p is not None]
    if as_json:
        print(_dump([p for _, p in shown]))
    elif shown:
        _print_table(_table([p for _, p in shown], [label for label, _ in shown]))


# vlmfiles generate ----------------------------------------------------------------------


def _is_url(item: str) -> bool:
    return item.startswith(("http://", "https://"))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err,
        disable=not sys.stdout.isatty(),
        transient=True,
    )


def generate(
    files: Annotated[
        list[str], typer.Argument(metavar="FILE", help="Files (or http(s) URLs) to process.")
    ],
    domain: Annotated[str, typer.Option("--domain", "-d", help="Domain, e.g. document.invoice.")],
    batch: Annotated[
        bool, typer.Option("--batch", help="Queue each prediction; answer at once.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Poll until every prediction is done.")
    ] = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
    sleep: Sleep = DEFAULT_SLEEP,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Files at once.")
    ] = 4,
    as_json: JsonFlag = False,
    api_key: ApiKey = None,
    base_url: BaseUrl = None,
) -> None:
    """Upload FILES and run a prediction on each (one line of results per file)."""
    for item in files:
        if not _is_url(item) and not Path(item).is_file():
            raise _fail(f"No such file: {item}", LOCAL_FILE_MISSING)
    settings = Settings(api_key, base_url)
    with _errors(settings):
        client = settings.client()
    local = [Path(i) for i in files if not _is_url(i)]
    total_bytes = sum(p.stat().st_size for p in local)
    outcome = Outcome()
    lock = threading.Lock()
    with client, _progress() as progress:
        uploads = progress.add_task(
            "Uploads", total=total_bytes or None, detail=f"0/{len(local)} files"
        )
        predicted = progress.add_task("Predictions", total=len(files), detail="")
        counts = {"uploaded": 0, "done": 0}
        if not local:
            progress.remove_task(uploads)

        def upload(path: Path) -> Any:
            task = progress.add_task(f"  {path.name}", total=path.stat().st_size, detail="")
            sent_before = [0]

            def on_progress(sent: int, total: int | None) -> None:
                progress.update(task, completed=sent, total=total)
                progress.advance(uploads, sent - sent_before[0])
                sent_before[0] = sent

            try:
                return client.files.upload(path, on_progress=on_progress)
            finally:
                progress.remove_task(task)
                progress.advance(uploads, path.stat().st_size - sent_before[0])
                with lock:
                    counts["uploaded"] += 1
                    progress.update(uploads, detail=f"{counts['uploaded']}/{len(local)} files")

        def submit(item: str) -> Any:
            ref: dict[str, Any]
            if _is_url(item):
                ref = {"url": item}
            else:
                file = upload(Path(item))
                ref = {"url": file.url, "file_id": file.id}
            if domain.startswith("image."):
                p = client.image.generate(urls=[ref["url"]], domain=domain, batch=batch)
            elif "file_id" in ref:
                p = client.document.generate(file_id=ref["file_id"], domain=domain, batch=batch)
            else:
                p = client.document.generate(url=ref["url"], domain=domain, batch=batch)
            return _finish(client, p, False, timeout, sleep)

        def done() -> None:
            with lock:
                counts["done"] += 1
                progress.update(predicted, advance=1, detail=f"{counts['done']}/{len(files)} done")

        def first(item: str) -> Any:
            p = _settle(item, outcome, lambda: submit(item), lambda: None)
            if p is None or p.done or not wait:
                done()
            return p

        def then_wait(item: str, p: Any) -> Any:
            if p is None or p.done or not wait:
                return p
            return _settle(item, outcome, lambda: _finish(client, p, True, timeout, sleep), done)

        # Every file is submitted before any is waited for: a slow prediction does not hold
        # back the uploads of the files after it.
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            submitted = list(pool.map(first, files))
            results = list(zip(files, pool.map(then_wait, files, submitted), strict=True))
    _print_results(results, as_json)
    if outcome.code():
        raise typer.Exit(outcome.code())


# vlmfiles predictions ... ---------------------------------------------------------------


@predictions_app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="At most this many predictions.")
    ] = 20,
    skip: Annotated[int, typer.Option("--skip", min=0, help="Skip the newest N.")] = 0,
    all_: Annotated[
        bool, typer.Option("--all", "-a", help="Every prediction (ignores --limit).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List predictions, newest first."""
    with _errors(ctx.obj), ctx.obj.client() as client:
        found = list(client.predictions.list(skip=skip, limit=None if all_ else limit))
    if as_json:
        print(_dump(found))
    else:
        _print_table(_table(found))


@predictions_app.command()
def get(
    ctx: typer.Context,
    prediction_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonFlag = False,
) -> None:
    """Show one prediction, its result included."""
    with _errors(ctx.obj), ctx.obj.client() as client:
        _show_one(client.predictions.get(prediction_id), as_json)


@predictions_app.command("wait")
def wait_(
    ctx: typer.Context,
    prediction_ids: Annotated[list[str], typer.Argument(metavar="ID")],
    timeout: Timeout = DEFAULT_TIMEOUT,
    sleep: Sleep = DEFAULT_SLEEP,
    as_json: JsonFlag = False,
) -> None:
    """Wait until each prediction is completed or failed; show them."""
    outcome = Outcome()
    results: list[tuple[str, Any]] = []
    with _errors(ctx.obj), ctx.obj.client() as client:
        for pid in prediction_ids:

            def one(pid: str = pid) -> Any:
                return client.predictions.wait(pid, timeout=timeout, sleep=sleep)

            results.append((pid, _settle(pid, outcome, one, lambda: None)))
    if len(results) == 1 and results[0][1] is not None:
        _show_one(results[0][1], as_json)
    else:
        _print_results(results, as_json)
    if outcome.code():
        raise typer.Exit(outcome.code())


__all__ = ["ApiError", "generate", "predictions_app"]
