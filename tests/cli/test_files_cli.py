"""``vlmfiles files ...`` against a real server: output for scripts (``--json``), and the
documented exit codes (0 ok, 1 API error, 2 usage, 3 local file missing) with one-line errors
on stderr. ``test_cli_process.py`` runs the installed command itself."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vlmfiles.cli import app

runner = CliRunner()


@pytest.fixture
def run(server, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("VLMFILES_API_KEY", raising=False)
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    key = server.new_key(f"cli-{uuid.uuid4().hex[:10]}")

    def invoke(*args: str, key: str | None = key):
        opts = ["files", "--base-url", server.base_url]
        if key is not None:
            opts += ["--api-key", key]
        return runner.invoke(app, [*opts, *args])

    return invoke


def test_round_trip(run, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"alpha " + os.urandom(64).hex().encode())
    b.write_bytes(b"beta " + os.urandom(64).hex().encode())

    r = run("upload", str(a), str(b), "--purpose", "batch", "-c", "2", "--json")
    assert r.exit_code == 0, r.output
    uploaded = json.loads(r.stdout)
    assert sorted(f["filename"] for f in uploaded) == ["a.txt", "b.txt"]
    assert {f["purpose"] for f in uploaded} == {"batch"}

    r = run("list", "--all", "--json")
    assert r.exit_code == 0, r.output
    assert {f["id"] for f in json.loads(r.stdout)} == {f["id"] for f in uploaded}
    assert len(json.loads(run("list", "--limit", "1", "--json").stdout)) == 1

    first = uploaded[0]
    r = run("get", first["id"], "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["id"] == first["id"]
    assert first["id"] in run("get", first["id"]).stdout  # the table for people

    r = run("cached", str(a), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["filename"] == "a.txt"

    out = tmp_path / "out.txt"
    r = run("download", first["id"], "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == (tmp_path / first["filename"]).read_bytes()

    r = run("delete", *(f["id"] for f in uploaded), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(run("list", "--all", "--json").stdout) == []
    assert json.loads(run("cached", str(a), "--json").stdout) is None


def test_api_error_exits_1_with_one_line(run) -> None:
    r = run("get", "file_" + "0" * 24)
    assert r.exit_code == 1
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "404" in r.stderr
    assert "Traceback" not in r.output


def test_bad_key_exits_1(run) -> None:
    r = run("list", key="not-a-key")
    assert r.exit_code == 1 and "401" in r.stderr


@pytest.mark.parametrize("args", [["list", "--limit", "0"], ["frobnicate"]])
def test_usage_errors_exit_2(run, args: list[str]) -> None:
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


def test_missing_key_exits_2(run) -> None:
    r = run("list", key=None)
    assert r.exit_code == 2
    assert "API key" in r.stderr
