"""The ``vlmfiles`` command: ``serve``/``keys``/``db`` (server) and ``files`` (SDK)."""

from __future__ import annotations

import typer

from .server import server_app
from .worker import worker_app

app = typer.Typer(
    name="vlmfiles",
    help="vlmfiles: a self-hostable VLM Run Files API — server, SDK and CLI.",
    no_args_is_help=True,
    add_completion=False,
)
app.registered_commands += server_app.registered_commands
app.registered_groups += server_app.registered_groups
app.registered_commands += worker_app.registered_commands

try:
    from .files import files_app
except ImportError:  # the files commands are being written; the server ones work without
    files_app = None
if files_app is not None:
    app.add_typer(files_app, name="files")

from .predictions import generate, predictions_app  # noqa: E402  # after files, which it uses

app.command("generate")(generate)
app.add_typer(predictions_app, name="predictions")


def main() -> None:
    app()
