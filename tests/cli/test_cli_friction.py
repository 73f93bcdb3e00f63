"""``vlmfiles files`` where a newcomer stumbled (issue #28, items 7-13), run as the real
command at a plain 80-column width: ids and URLs whole, ``-o dir/`` meaning a directory, a
damaged resume or a down server said in words with the documented exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.server import free_port

PURPOSES = ("fine-tune", "assistants", "assistants_output", "batch", "batch_output", "vision")


def make_cli(server, tmp_path: Path, columns: int = 80):
    key = server.new_key(f"cli-{uuid.uuid4().hex[:10]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLMFILES_", "VLMRUN_"))}
    env.update(VLMFILES_API_KEY=key, VLMFILES_BASE_URL=server.base_url, COLUMNS=str(columns))

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vlmfiles.cli", "files", *args],
            env={**env, **extra},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


@pytest.fixture
def cli(server, tmp_path: Path):
    return make_cli(server, tmp_path)


def uploaded(cli, tmp_path: Path, name: str, data: bytes) -> dict:
    (tmp_path / name).write_bytes(data)
    proc = cli("upload", name, "--purpose", "batch", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)[0]


def test_ids_urls_and_hashes_are_whole_at_80_columns(cli, tmp_path: Path):
    long_name = "quarterly-report-for-the-board-of-directors-final-v2.pdf"
    f = uploaded(cli, tmp_path, long_name, b"%PDF-1.4\n" + os.urandom(5000))
    for args in (["list"], ["list", "--purpose", "batch"]):
        table = cli(*args)
        assert table.returncode == 0, table.stderr
        assert f["id"] in table.stdout, table.stdout  # whole, on one line, to copy
        assert max(len(line) for line in table.stdout.splitlines()) <= 80
    fresh = tmp_path / "fresh.pdf"
    fresh.write_bytes(b"%PDF-1.4\n" + os.urandom(100))
    up = cli("upload", "fresh.pdf")
    assert up.returncode == 0 and json.loads(cli("list", "--json").stdout)[0]["id"] in up.stdout
    shown = cli("get", f["id"])
    assert shown.returncode == 0
    joined = shown.stdout.replace("\n", "")  # the terminal wraps; nothing is cut
    assert f["id"] in joined and f["sha256"] in joined
    signed = (
        re.escape(f["url"].split("?")[0])
        + r"\?tenant=\w+&key=[\w-]+&expires=\d+&signature=[0-9a-f]{64}"
    )
    assert len(re.findall(signed, joined)) == 2, joined  # url and public_url, whole


def test_output_ending_in_a_slash_is_a_directory(cli, tmp_path: Path):
    data = os.urandom(3000)
    f = uploaded(cli, tmp_path, "scan.bin", data)
    for target in ("downloads/", "nested/deeper/"):
        proc = cli("download", f["id"], "-o", target)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / target / "scan.bin").read_bytes() == data
        assert proc.stdout.strip() == str(Path(target) / "scan.bin")
    missing = cli("download", f["id"], "-o", "nodir/copy.bin")
    assert missing.returncode == 3 and missing.stdout == ""
    assert "directory nodir/ does not exist" in missing.stderr
    assert "Errno" not in missing.stderr and not (tmp_path / "nodir").exists()


def test_a_damaged_partial_download_exits_1_and_says_so(cli, tmp_path: Path):
    data = os.urandom(200_000)
    f = uploaded(cli, tmp_path, "big.bin", data)
    part = tmp_path / "copy.bin.part"
    part.write_bytes(b"\0" * 1000)  # not the file's first bytes: the resume cannot match
    proc = cli("download", f["id"], "-o", "copy.bin")
    assert proc.returncode == 1, proc.stderr  # 2 is for usage errors
    assert "do not match its sha256" in proc.stderr and proc.stdout == ""
    assert not part.exists() and not (tmp_path / "copy.bin").exists()
    again = cli("download", f["id"], "-o", "copy.bin")
    assert again.returncode == 0 and (tmp_path / "copy.bin").read_bytes() == data


def test_no_empty_table_when_every_upload_fails(cli, tmp_path: Path):
    (tmp_path / "notes.txt").write_bytes(b"words, not an image\n")
    proc = cli("upload", "notes.txt", "--purpose", "vision")
    assert proc.returncode == 1 and "415" in proc.stderr
    assert proc.stdout == ""
    as_json = cli("upload", "notes.txt", "--purpose", "vision", "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout) == []  # scripts get a list


def test_a_server_that_is_down_is_named_with_how_to_check(cli, tmp_path: Path):
    (tmp_path / "a.pdf").write_bytes(os.urandom(100))
    down = f"http://127.0.0.1:{free_port()}/v1"
    for args in (["list"], ["upload", "a.pdf"]):
        proc = cli(*args, VLMFILES_BASE_URL=down)
        assert proc.returncode == 1, proc.stderr
        line = proc.stderr.strip().splitlines()[-1]
        assert f"The server at {down} is not reachable" in line, line
        assert f"curl {down}/health" in line and "vlmfiles serve" in line
        assert "/files/hash/" not in proc.stderr  # not which request happened to fail


def test_purpose_is_checked_before_anything_is_sent(cli, tmp_path: Path):
    (tmp_path / "a.pdf").write_bytes(os.urandom(100))
    proc = cli("upload", "a.pdf", "--purpose", "foo")
    assert proc.returncode == 2 and "'foo' is not one of" in proc.stderr
    assert json.loads(cli("list", "--json").stdout) == []
    assert cli("list", "--purpose", "foo").returncode == 2
    helped = cli("upload", "--help", COLUMNS="200")
    for purpose in (*PURPOSES, "datasets"):
        assert purpose in helped.stdout, purpose


def test_too_large_says_the_file_size_and_the_limit(small_server, tmp_path: Path):
    cli = make_cli(small_server, tmp_path)
    (tmp_path / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 // 2))
    proc = cli("upload", "big.bin")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "the file is 1.5 MiB" in proc.stderr and "limit of 1 MiB" in proc.stderr, proc.stderr
    assert "bytes (0 MiB)" not in proc.stderr
