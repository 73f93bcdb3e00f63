"""docs/cli.md names every ``files`` command and every one of its options."""

from __future__ import annotations

from pathlib import Path

import typer.main

from vlmfiles.cli.files import files_app

DOC = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()


def test_every_command_and_option_is_documented() -> None:
    group = typer.main.get_group(files_app)
    for param in group.params:
        for opt in param.opts:
            assert f"`{opt}" in DOC, f"global option {opt} missing from docs/cli.md"
    for name, command in group.commands.items():
        assert f"### `files {name}" in DOC, f"command {name} missing from docs/cli.md"
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("-") and opt != "--help":
                    assert opt in DOC, f"{name} {opt} missing from docs/cli.md"
