"""The ``vlmfiles`` command: ``serve``/``keys``/``db``/``fsck`` (server) and ``files`` (SDK).

The ``files`` commands need only the SDK; the server commands import the server when run,
and say which extra to install only when one of its modules is missing
(``server.SERVER_EXTRA_MODULES``): any other import error is raised as it is."""

from __future__ import annotations

import typer

from .files import files_app
from .predictions import generate, predictions_app
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
app.add_typer(files_app, name="files")

app.command("generate")(generate)
app.add_typer(predictions_app, name="predictions")


def main() -> None:
    app()
