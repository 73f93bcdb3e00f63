"""Server CPU per request: 4 KiB uploads, then reads of a file by id, from 8 keep-alive
clients; the server process's user + system CPU divided by the requests it served.

CPU per request moves far less with a busy machine than requests per second, so it is the
figure to compare two commits by: run each by turns, on the same machine.

    .venv/bin/python -m bench.server_cpu --stack postgres --total 1600
    .venv/bin/python -m bench.server_cpu --tree /tmp/other-checkout   # that commit's server

``postgres`` is PostgreSQL with the blobs on local disk: a small upload's path on the scale
stack, whose bytes go into the database, without SeaweedFS.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.stacks import workdir_default
from tests.support.postgres import fresh_database
from tests.support.server import ServerProcess

CLIENTS = 8


@contextlib.contextmanager
def _server(stack: str, workdir: Path) -> Iterator[ServerProcess]:
    data_dir = workdir / f"cpu-{stack}-{uuid.uuid4().hex[:6]}"
    env = {"VLMFILES_LOG_LEVEL": "warning"}
    try:
        with contextlib.ExitStack() as stack_:
            if stack == "postgres":
                env["VLMFILES_DATABASE_URL"] = stack_.enter_context(fresh_database())
            srv = ServerProcess(data_dir=data_dir, env=env)
            srv.cli("db", "upgrade")
            srv.start()
            stack_.callback(srv.stop)
            yield srv
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(srv: ServerProcess, total: int, request) -> tuple[float, float]:
    """(ms of server CPU per request, requests/s) for ``total`` calls of ``request(client)``."""
    assert srv.proc is not None

    def work() -> None:
        with srv.client() as client:
            for _ in range(total // CLIENTS):
                request(client)

    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    cpu, start = _cpu_seconds(srv.proc.pid), time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return (_cpu_seconds(srv.proc.pid) - cpu) / total * 1000, total / elapsed


def run(stack: str, total: int) -> str:
    with _server(stack, workdir_default()) as srv:
        ids: list[str] = []

        def upload(client: httpx.Client) -> None:
            r = client.post("/files", files={"file": ("a.bin", os.urandom(4096))})
            r.raise_for_status()
            ids.append(r.json()["id"])

        def read(client: httpx.Client) -> None:
            client.get(f"/files/{ids[0]}").raise_for_status()

        _measure(srv, 400, upload)  # warm up: connections, caches, the first pages
        up, up_rate = _measure(srv, total, upload)
        get, get_rate = _measure(srv, total, read)
    return (
        f"{stack}: 4 KiB upload {up:.3f} ms CPU ({up_rate:.0f}/s), "
        f"GET by id {get:.3f} ms CPU ({get_rate:.0f}/s)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stack", choices=["embedded", "postgres"], default="embedded")
    ap.add_argument("--total", type=int, default=1600, help="requests per measurement")
    ap.add_argument("--tree", type=Path, help="run the server from this checkout's src/")
    args = ap.parse_args(argv)
    if args.tree is not None:
        os.environ["PYTHONPATH"] = str(args.tree.resolve() / "src")
    print(run(args.stack, args.total))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
