"""Start what a benchmark runs against: our server on either stack, and SeaweedFS."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.support.postgres import fresh_database
from tests.support.server import ServerProcess, scale_env


@contextlib.contextmanager
def seaweed(workdir: Path) -> Iterator:
    from tests.support.seaweed import start_seaweed

    directory = workdir / f"seaweed-{uuid.uuid4().hex[:6]}"
    handle = start_seaweed(directory)
    try:
        yield handle
    finally:
        handle.stop()
        shutil.rmtree(directory, ignore_errors=True)  # its volumes fill the disk run after run


@contextlib.contextmanager
def server(stack: str, workdir: Path, weed=None, **env: str) -> Iterator[ServerProcess]:
    """A `vlmfiles serve` on ``stack`` ("embedded" or "scale")."""
    data_dir = workdir / f"server-{stack}-{uuid.uuid4().hex[:6]}"
    settings = {f"VLMFILES_{k.upper()}": v for k, v in env.items()}
    settings.setdefault("VLMFILES_LOG_LEVEL", "warning")
    try:
        if stack == "embedded":
            srv = ServerProcess(data_dir=data_dir, env=settings).start()
            try:
                yield srv
            finally:
                srv.stop()
            return
        with fresh_database() as url:
            srv = ServerProcess(
                data_dir=data_dir,
                env={**settings, **scale_env(weed, url, f"bench-{uuid.uuid4().hex[:8]}")},
            )
            srv.cli("db", "upgrade")
            srv.start()
            try:
                yield srv
            finally:
                srv.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)  # gigabytes of benchmark blobs


def workdir_default() -> Path:
    """Benchmarks write to the project's disk (not a tmpfs), where a real data dir would be."""
    path = Path(
        os.environ.get("VLMFILES_BENCH_DIR", Path(__file__).parent.parent / ".cache" / "bench")
    )
    path.mkdir(parents=True, exist_ok=True)
    return path
