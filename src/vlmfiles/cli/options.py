"""The options every server-side command takes (``serve``, ``keys``, ``db``, ``fsck``, ...).

One command line works for all of them: the same ``--config``, ``--data-dir``,
``--database-url`` and ``--storage-url``, the same ``VLMFILES_*`` environment and TOML file.
Defaults are shown with ``show_default`` strings: the options themselves default to None so
that the environment and the TOML file can still decide (``server/settings.py``), and a
``[default ...]`` written into the help text is swallowed by Rich as a markup tag.
``tests/cli/test_server_cli.py`` checks every server-side command takes these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

SETTINGS_EPILOG = (
    "Every setting can also come from its environment variable VLMFILES_<NAME> or a TOML "
    "file (--config); flags win, then the environment, then the file. "
    "All settings: docs/configuration.md."
)


def setting(*flags: str, help: str, default: str | None = None) -> Any:
    """A server setting as an option: its env variable and its default shown in ``--help``."""
    name = flags[0].removeprefix("--").replace("-", "_").upper()
    return typer.Option(
        *flags,
        help=help,
        envvar=f"VLMFILES_{name}",
        show_envvar=True,
        show_default=default if default is not None else False,
    )


ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="A TOML settings file (keys as in docs/configuration.md).",
        envvar="VLMFILES_CONFIG",
        show_envvar=True,
    ),
]
DataDir = Annotated[
    Path | None,
    setting(
        "--data-dir",
        help="Where the embedded database, blobs and signing secret live.",
        default="the user's data dir, e.g. ~/.local/share/vlmfiles",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    setting(
        "--database-url",
        help="Metadata database: sqlite:///PATH or postgresql://USER@HOST/DB.",
        default="SQLite in the data dir",
    ),
]
StorageUrl = Annotated[
    str | None,
    setting(
        "--storage-url",
        help="Blob store: file:///PATH or s3://BUCKET?endpoint=URL&region=R.",
        default="the data dir's blobs/",
    ),
]
CreateDataDir = Annotated[
    bool,
    typer.Option(
        "--create-data-dir",
        help="Start a new, empty data dir where none exists (otherwise refused, so a typo or "
        "another current directory does not silently make a second one).",
    ),
]
VlmBaseUrl = Annotated[
    str | None,
    setting(
        "--vlm-base-url",
        help="An OpenAI-compatible endpoint (vLLM, Ollama, LM Studio, OpenAI), "
        "e.g. http://127.0.0.1:8001/v1: adds the model engine (docs/engines.md).",
        default="none: the offline engine only",
    ),
]
VlmModel = Annotated[
    str | None, setting("--vlm-model", help="The model name sent to --vlm-base-url.")
]
VlmApiKey = Annotated[
    str | None,
    setting("--vlm-api-key", help="Bearer key for --vlm-base-url (never printed)."),
]
