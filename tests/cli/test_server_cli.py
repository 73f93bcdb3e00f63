"""The server-side commands as a newcomer meets them: one data dir whatever the current
directory, no silent second one, the same options on every command, defaults in ``--help``,
and a start that says where the server answers, where its data is and how to get a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.support.server import ServerProcess, vlmfiles_cmd
from vlmfiles.cli import app

CONNECTION = ("--config", "--data-dir", "--database-url", "--storage-url")
SDK_COMMANDS = {"files", "generate", "predictions"}


def run(*args: str, cwd: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``vlmfiles ARGS`` as a user runs it: no VLMFILES_* set, the user's data home at
    ``home``, in the directory ``cwd``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VLMFILES_", "VLMRUN_"))}
    clean.update(XDG_DATA_HOME=str(home), COLUMNS="200", **env)
    return subprocess.run(
        vlmfiles_cmd(*args), env=clean, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def server_commands() -> dict[str, Any]:
    """Every command but the SDK's (``files``, ``generate``, ``predictions``: they talk HTTP
    to a server), by its full name: the coming ones too."""
    found = {}

    def walk(prefix: str, group: Any) -> None:
        for name, command in group.commands.items():
            if prefix == "" and name in SDK_COMMANDS:
                continue
            if hasattr(command, "commands"):
                walk(f"{prefix}{name} ", command)
            else:
                found[f"{prefix}{name}"] = command

    walk("", typer.main.get_group(app))
    return found


def test_every_server_command_takes_the_same_connection_settings():
    commands = server_commands()
    expected = {"serve", "worker", "keys create", "keys list", "keys revoke", "db upgrade", "fsck"}
    assert expected <= set(commands)
    for name, command in commands.items():
        opts = {opt for param in command.params for opt in param.opts}
        for flag in CONNECTION:
            assert flag in opts, f"`vlmfiles {name}` lacks {flag}"
        assert "VLMFILES_<NAME>" in (command.epilog or ""), name


@pytest.mark.parametrize("command", ["serve", "keys create", "fsck"])
def test_help_shows_defaults_and_environment(command, tmp_path):
    out = run(*command.split(), "--help", cwd=tmp_path, home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "VLMFILES_DATA_DIR" in out.stdout and "VLMFILES_CONFIG" in out.stdout
    assert "~/.local/share/vlmfiles" in out.stdout  # the data dir's default
    assert "docs/configuration.md" in out.stdout
    if command == "serve":
        assert "8000" in out.stdout and "127.0.0.1" in out.stdout  # Rich swallowed these


def test_one_data_dir_whatever_the_current_directory(tmp_path):
    home, here, there = tmp_path / "home", tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    refused = run("keys", "create", cwd=here, home=home)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "no vlmfiles data" in refused.stderr and "--create-data-dir" in refused.stderr
    assert str(home / "vlmfiles") in refused.stderr and "Traceback" not in refused.stderr
    assert not (home / "vlmfiles").exists() and list(here.iterdir()) == []

    made = run("keys", "create", "--tenant", "acme", "--create-data-dir", cwd=here, home=home)
    assert made.returncode == 0 and made.stdout.startswith("vlmf_"), made.stderr
    assert (home / "vlmfiles" / "metadata.sqlite3").exists() and list(here.iterdir()) == []
    listed = run("keys", "list", cwd=there, home=home)  # another directory: the same keys
    assert listed.returncode == 0 and "tenant=acme" in listed.stdout
    assert f"data dir: {home / 'vlmfiles'}" in listed.stderr


def test_fsck_refuses_a_folder_with_no_data(tmp_path):
    empty = tmp_path / "typo"
    out = run("fsck", "--data-dir", str(empty), cwd=tmp_path, home=tmp_path)
    assert out.returncode == 1
    assert f"no vlmfiles data in {empty}" in out.stderr and "--create-data-dir" not in out.stderr
    assert not empty.exists()
    out = run("fsck", cwd=tmp_path, home=tmp_path / "home")  # the default: start the server
    assert out.returncode == 1 and "vlmfiles serve" in out.stderr


def test_every_start_says_where_it_answers_and_how_to_get_a_key(tmp_path):
    srv = ServerProcess(data_dir=tmp_path / "d")
    for start in ("first", "restart"):
        srv.start()
        srv.stop()
        log = srv.log()
        srv.log_path.unlink()
        assert f"serving the Files and predictions API at {srv.base_url}" in log, log
        assert f"data dir:    {srv.data_dir.resolve()}" in log
        assert f"vlmfiles keys create --data-dir {srv.data_dir.resolve()}" in log
        assert f"signed URLs: {srv.origin}/v1/files/" in log
        assert ("export VLMRUN_API_KEY=vlmf_" in log) == (start == "first")
        assert "warning" not in log  # loopback only: the signed URLs are right


def test_listening_wider_with_loopback_signed_urls_warns():
    from vlmfiles.cli.startup import start_lines
    from vlmfiles.server.settings import load_settings

    def lines(**flags) -> str:
        settings = load_settings(data_dir=Path("/srv/v"), **flags)
        return "\n".join(start_lines(settings, Path("/srv/v"), None))

    assert "warning" not in lines()
    wide = lines(host="0.0.0.0", port=9000)
    assert "warning: listening on 0.0.0.0 but signed URLs name http://127.0.0.1:9000" in wide
    assert "--public-url" in wide
    assert "warning" not in lines(host="0.0.0.0", public_url="https://files.example.com")
    assert "signed URLs: https://files.example.com/v1/files/" in lines(
        host="0.0.0.0", public_url="https://files.example.com"
    )
    assert "API keys:    vlmfiles keys create  prints a new one" in lines()  # default dir


def test_missing_server_extra_is_named_but_real_import_errors_are_not_hidden(tmp_path):
    def with_module_missing(module: str) -> subprocess.CompletedProcess[str]:
        code = (
            f"import sys; sys.modules[{module!r}] = None; sys.argv = ['vlmfiles', 'keys', "
            "'list']; from vlmfiles.cli import main; main()"
        )
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )

    extra = with_module_missing("pydantic_settings")
    assert extra.returncode == 2 and "pip install 'vlmfiles[server]'" in extra.stderr
    assert "Traceback" not in extra.stderr
    bug = with_module_missing("vlmfiles.server.metadata.migrate")  # a broken install or a bug
    assert bug.returncode == 1 and "Traceback" in bug.stderr
    assert "vlmfiles[server]" not in bug.stderr
