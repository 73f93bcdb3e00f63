"""Docs checked by tests: every setting documented, the purposes table true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from vlmfiles.server.settings import Settings
from vlmfiles.server.sniff import JSON_TYPES, PURPOSES, VISION_TYPES, check_accepted

DOCS = Path(__file__).parent.parent / "docs"


def test_every_setting_is_documented():
    text = (DOCS / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`{name}`" in text and f"`VLMFILES_{name.upper()}`" in text, name


def test_purposes_table_matches_the_policy():
    text = (DOCS / "api.md").read_text()
    table = text.split("<!-- purposes-table -->")[1].split("<!-- /purposes-table -->")[0]
    documented = set(re.findall(r"^\| `([a-z_-]+)`", table, re.M))
    assert documented == set(PURPOSES)
    for purpose in PURPOSES:
        broad = (
            f"| `{purpose}`" in table
            and "any non-empty file" in table.split(f"| `{purpose}`")[1].split("\n")[0]
        )
        for ctype in ("application/zip", "video/mp4", "image/png", "application/json"):
            try:
                check_accepted(purpose, ctype)
                accepted = True
            except Exception:
                accepted = False
            if broad:
                assert accepted, (purpose, ctype)
        if not broad:
            rejects_zip = True
            try:
                check_accepted(purpose, "application/zip")
                rejects_zip = False
            except Exception:
                pass
            assert rejects_zip, purpose
    assert "image/png" in VISION_TYPES and "application/json" in JSON_TYPES


def _public_methods(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_") and callable(vars(cls)[name])}


def test_every_sdk_call_is_documented():
    import inspect

    import vlmfiles
    from vlmfiles.resources.files import AsyncFiles, Files

    text = (DOCS / "sdk.md").read_text()
    methods = _public_methods(Files)
    assert methods == _public_methods(AsyncFiles)  # the async client mirrors the sync one
    assert {"upload", "get", "list", "delete", "get_cached_file", "content"} <= methods
    for name in methods:
        assert f"### `files.{name}(" in text, name
        heading = text.split(f"### `files.{name}(")[1].split("\n")[0]
        for param in list(inspect.signature(getattr(Files, name)).parameters)[1:]:
            assert param in heading, (name, param)
    for param in list(inspect.signature(vlmfiles.Client.__init__).parameters)[1:]:
        assert f"| `{param}` |" in text, param
    for var in ("VLMFILES_API_KEY", "VLMRUN_API_KEY", "VLMFILES_BASE_URL", "VLMRUN_BASE_URL"):
        assert f"`{var}`" in text, var
    for field in vlmfiles.FileResponse.model_fields:
        assert f"`{field}`" in text, field
    for name in vlmfiles.exceptions.__all__:
        assert name in text, name


def test_every_cli_command_is_documented():
    import typer.main

    from vlmfiles.cli.files import files_app

    text = (DOCS / "cli.md").read_text()
    commands = typer.main.get_group(files_app).commands
    assert {"upload", "list", "get", "download", "delete", "cached"} <= set(commands)
    for name in commands:
        assert f"### `files {name}" in text, name
    for code in ("| 0 |", "| 1 |", "| 2 |"):
        assert code in text, code
