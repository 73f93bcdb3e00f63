"""docs/cli.md names ``generate`` and every ``predictions`` command, with every option."""

from __future__ import annotations

from pathlib import Path

import typer.main

from vlmfiles.cli import app
from vlmfiles.cli.predictions import predictions_app

DOC = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()


def options(command) -> list[str]:
    return [o for p in command.params for o in p.opts if o.startswith("-") and o != "--help"]


def test_generate_and_its_options_are_documented() -> None:
    generate = typer.main.get_group(app).commands["generate"]
    assert "### `generate " in DOC
    for opt in options(generate):
        assert f"`{opt}" in DOC, f"generate {opt} missing from docs/cli.md"


def test_every_predictions_command_and_option_is_documented() -> None:
    group = typer.main.get_group(predictions_app)
    for opt in options(group):
        assert f"`{opt}" in DOC, f"predictions {opt} missing from docs/cli.md"
    for name, command in group.commands.items():
        assert f"### `predictions {name}" in DOC, f"predictions {name} missing from docs/cli.md"
        for opt in options(command):
            assert opt in DOC, f"predictions {name} {opt} missing from docs/cli.md"


def test_exit_codes_4_and_5_are_documented() -> None:
    assert "| 4 |" in DOC and "| 5 |" in DOC
