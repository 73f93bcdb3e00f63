"""The real ``vlmfiles files`` command, run as a process (``python -m vlmfiles.cli``) with its
key and URL from the environment, against a real server: what a script sees."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.throttle import ThrottledProxy


@pytest.fixture
def cli(server, tmp_path: Path):
    key = server.new_key(f"cli-{uuid.uuid4().hex[:10]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLMFILES_", "VLMRUN_"))}
    env.update(VLMFILES_API_KEY=key, VLMFILES_BASE_URL=server.base_url, COLUMNS="200")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vlmfiles.cli", "files", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    return lines[0]


def test_upload_list_get_download_delete(cli, tmp_path: Path):
    paths = []
    for i in range(6):
        path = tmp_path / f"doc-{i}.pdf"
        path.write_bytes(b"%PDF-1.4\n" + os.urandom(200_000 + i))
        paths.append(path)

    up = cli("upload", *map(str, paths), "--concurrency", "3", "--purpose", "batch", "--json")
    assert up.returncode == 0, up.stderr
    assert up.stderr == ""  # no progress bars when stdout is not a terminal
    uploaded = json.loads(up.stdout)
    assert sorted(f["filename"] for f in uploaded) == [p.name for p in paths]
    assert {f["purpose"] for f in uploaded} == {"batch"} and len({f["id"] for f in uploaded}) == 6

    listed = cli("list", "--json")
    assert listed.returncode == 0
    assert {f["id"] for f in json.loads(listed.stdout)} == {f["id"] for f in uploaded}
    table = cli("list", "--purpose", "batch")
    assert table.returncode == 0
    for path in paths:
        assert path.name in table.stdout
    assert json.loads(cli("list", "--purpose", "vision", "--json").stdout) == []
    assert len(json.loads(cli("list", "--limit", "2", "--json").stdout)) == 2
    assert len(json.loads(cli("list", "--all", "--json").stdout)) == 6

    first = uploaded[0]
    got = cli("get", first["id"], "--json")
    assert got.returncode == 0 and json.loads(got.stdout)["sha256"] == first["sha256"]
    shown = cli("get", first["id"])
    assert first["id"] in shown.stdout and first["filename"] in shown.stdout

    target = tmp_path / "back.pdf"
    down = cli("download", first["id"], "-o", str(target))
    assert down.returncode == 0, down.stderr
    assert target.read_bytes() == (tmp_path / first["filename"]).read_bytes()
    assert down.stdout.strip() == str(target)

    cached = cli("cached", str(paths[1]), "--json")
    assert cached.returncode == 0
    assert json.loads(cached.stdout)["filename"] == paths[1].name

    gone = cli("delete", *(f["id"] for f in uploaded[:4]), "--json")
    assert gone.returncode == 0, gone.stderr
    assert sorted(f["id"] for f in json.loads(gone.stdout)) == sorted(f["id"] for f in uploaded[:4])
    left = json.loads(cli("list", "--all", "--json").stdout)
    assert {f["id"] for f in left} == {f["id"] for f in uploaded[4:]}


def test_cached_for_unknown_content(cli, tmp_path: Path):
    (tmp_path / "new.bin").write_bytes(os.urandom(100))
    proc = cli("cached", "new.bin", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout) is None
    proc = cli("cached", "new.bin")
    assert proc.returncode == 0 and "Not cached" in proc.stdout


@pytest.mark.parametrize(
    "args", [["upload", "missing.pdf"], ["upload", "odd[name].pdf"], ["cached", "missing.pdf"]]
)
def test_missing_local_file_exits_3(cli, args):
    proc = cli(*args)
    assert proc.returncode == 3, proc.stderr
    assert args[1] in one_error_line(proc)  # the name as given, [brackets] and all
    assert proc.stdout == ""


def test_missing_file_among_several_sends_nothing(cli, tmp_path: Path):
    (tmp_path / "ok.pdf").write_bytes(os.urandom(100))
    proc = cli("upload", "ok.pdf", "missing.pdf")
    assert proc.returncode == 3
    assert json.loads(cli("list", "--json").stdout) == []


def test_unknown_id_exits_1_with_one_line(cli):
    for command in ("get", "download", "delete"):
        proc = cli(command, "file_0123456789abcdef0123")
        assert proc.returncode == 1, (command, proc.stderr)
        line = one_error_line(proc)
        assert "404" in line and "request id" in line
        assert proc.stdout == ""


def test_bad_purpose_is_a_usage_error(cli, tmp_path: Path):
    (tmp_path / "a.pdf").write_bytes(os.urandom(100))
    proc = cli("upload", "a.pdf", "--purpose", "nonsense")
    assert proc.returncode == 2  # checked before anything is sent
    assert "nonsense" in proc.stderr and "fine-tune" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unsupported_type_exits_1_saying_why(cli, tmp_path: Path):
    (tmp_path / "notes.txt").write_bytes(b"just text\n")
    proc = cli("upload", "notes.txt", "--purpose", "vision")
    assert proc.returncode == 1 and "415" in proc.stderr and "text/plain" in proc.stderr


def test_usage_error_exits_2(cli):
    assert cli("list", "--limit", "zero").returncode == 2
    assert cli("frobnicate").returncode == 2


def test_no_api_key_exits_2(server, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLMFILES_", "VLMRUN_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "vlmfiles.cli", "files", "--base-url", server.base_url, "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "API key" in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_server_exits_1(cli, tmp_path: Path):
    from tests.support.server import free_port

    env_url = f"http://127.0.0.1:{free_port()}/v1"
    proc = subprocess.run(
        [sys.executable, "-m", "vlmfiles.cli", "files", "--base-url", env_url, "list"],
        env={**os.environ, "VLMFILES_API_KEY": "k"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "is not reachable" in one_error_line(proc)


def test_progress_bars_on_a_terminal(cli, server, tmp_path: Path):
    """On a terminal, uploads and downloads draw a bar with the size, speed and time left."""
    import pty
    import select

    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(16 * 1024 * 1024))
    # Through a link of 8 MB/s, each way takes ~2 s: long enough for the bar to redraw
    # (rich's 10 per second) whatever the machine. Straight to the server, a fast machine
    # sent 64 MiB before the first redraw (and the bar showed no speed).
    proxy = ThrottledProxy(("127.0.0.1", server.port), rate=8e6)
    key = server.new_key(f"tty-{uuid.uuid4().hex[:8]}")
    base_url = f"http://127.0.0.1:{proxy.port}/v1"
    env = {**os.environ, "VLMFILES_API_KEY": key, "VLMFILES_BASE_URL": base_url}
    env.update(COLUMNS="120", TERM="xterm")

    def on_terminal(*args: str) -> tuple[int, str]:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "vlmfiles.cli", "files", *args],
            env=env,
            cwd=tmp_path,
            stdout=slave,
            stderr=slave,
        )
        os.close(slave)
        seen = b""
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            seen += data
        os.close(master)
        return proc.wait(timeout=60), seen.decode(errors="replace")

    with proxy:
        code, screen = on_terminal("upload", str(path))
        assert code == 0, screen
        speed = re.compile(r"\d+(\.\d+)? [kMG]?B/s")
        assert "big.bin" in screen and "/16.8 MB" in screen, screen  # the bar: name and size
        assert speed.search(screen) and re.search(r"\d:\d\d:\d\d", screen), screen  # speed, ETA
        file_id = next(w for w in screen.split() if w.startswith("file_"))
        code, screen = on_terminal("download", file_id, "-o", str(tmp_path / "back.bin"))
        assert code == 0, screen
    assert speed.search(screen), screen
    assert (tmp_path / "back.bin").read_bytes() == path.read_bytes()
