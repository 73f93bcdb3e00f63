"""The prediction pipeline measured: what the queue adds, and memory on a long document.

    .venv/bin/python -m bench.predictions [--smoke]

Rows (also part of ``python -m bench.run --only predictions``):
- queue overhead: submit → completed with a near no-op engine (the scripted engine's
  ``document.test-echo``: it hashes one tiny file), p50/p99 at 1 and 8 clients, ``batch=false``
  (one request) and ``batch=true`` (submit, then poll every 5 ms), as a ratio to a plain API
  request (``GET /v1/files/{id}``) measured in the same run; embedded (in-process queue) and
  scale (Redis, `vlmfiles worker` processes).
- throughput: jobs/s of the same engine through 1 and 2 worker processes (scale).
- a 500-page text PDF through ``document.markdown`` (embedded): seconds, and the server's
  peak RSS growth (target ≤ 200 MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.support

from bench import stacks  # noqa: E402
from bench.memory import PeakRss  # noqa: E402
from tests.support.workers import Workers, drop_namespace, queue_env  # noqa: E402

Row = tuple[str, str, str, str]
ENGINES = json.dumps(
    ["tests.support.engines:ScriptedEngine", "vlmfiles.server.engines.offline:OfflineEngine"]
)
ROOT = Path(__file__).resolve().parent.parent


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _clients(n: int, per_client: int, fn: Callable[[httpx.Client], float], make) -> list[float]:
    """``fn`` run ``per_client`` times by each of ``n`` threads; the seconds of each."""
    out: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        with make() as c:
            mine = [fn(c) for _ in range(per_client)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _submit(c: httpx.Client, file_id: str, batch: bool) -> str:
    r = c.post(
        "/document/generate",
        json={"file_id": file_id, "domain": "document.test-echo", "batch": batch},
    )
    r.raise_for_status()
    return r.json()["id"] if r.json()["status"] != "completed" or batch else ""


def _until_done(c: httpx.Client, pred_id: str) -> None:
    while True:
        status = c.get(f"/predictions/{pred_id}").json()["status"]
        if status in ("completed", "failed"):
            assert status == "completed", pred_id
            return
        time.sleep(0.005)


def overhead(stack: str, srv, jobs: int) -> list[Row]:
    rows: list[Row] = []
    with srv.client() as c:
        file_id = c.post("/files", files={"file": ("x.bin", uuid.uuid4().bytes)}).json()["id"]

    def plain(c: httpx.Client) -> float:
        t = time.perf_counter()
        c.get(f"/files/{file_id}").raise_for_status()
        return time.perf_counter() - t

    def sync(c: httpx.Client) -> float:
        t = time.perf_counter()
        pending = _submit(c, file_id, batch=False)
        if pending:  # answered before completion: only past the sync wait
            _until_done(c, pending)
        return time.perf_counter() - t

    def batch(c: httpx.Client) -> float:
        t = time.perf_counter()
        _until_done(c, _submit(c, file_id, batch=True))
        return time.perf_counter() - t

    for n in (1, 8):
        per = max(2, jobs // n)
        base = statistics.median(_clients(n, per, plain, srv.client))
        for name, fn in (("batch=false", sync), ("batch=true", batch)):
            times = _clients(n, per, fn, srv.client)
            p50, p99 = _pct(times, 0.5), _pct(times, 0.99)
            rows.append(
                (
                    stack,
                    f"no-op job submit→completed, {name}, {n} clients",
                    f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
                    f"p50 {p50 / base:.1f} × a file GET ({base * 1000:.1f} ms)",
                )
            )
    return rows


def throughput(srv, workers: Workers, jobs: int) -> list[Row]:
    """Jobs/s with 8 clients submitting (batch) and waiting, through 1 then 2 workers."""
    rows: list[Row] = []
    rates = []
    with srv.client() as c:
        file_id = c.post("/files", files={"file": ("x.bin", uuid.uuid4().bytes)}).json()["id"]

    def one(c: httpx.Client) -> float:
        _until_done(c, _submit(c, file_id, batch=True))
        return 0.0

    for n in (1, 2):
        while len(workers.alive()) < n:
            workers.start(1)
        t = time.perf_counter()
        done = len(_clients(8, max(1, jobs // 8), one, srv.client))
        rate = done / (time.perf_counter() - t)
        rates.append(rate)
        ratio = f"{rate / rates[0]:.2f} × 1 worker" if n > 1 else ""
        rows.append(
            (
                "scale",
                f"no-op jobs through {n} worker process(es), 8 clients",
                f"{rate:.0f} jobs/s",
                ratio,
            )
        )
    return rows


def long_pdf(work: Path, pages: int) -> Path:
    from fpdf import FPDF

    path = work / f"long-{pages}.pdf"
    if path.exists():
        return path
    doc = FPDF()
    doc.set_font("Helvetica", size=11)
    for n in range(pages):
        doc.add_page()
        doc.cell(0, 10, f"Chapter {n + 1}", new_x="LMARGIN", new_y="NEXT")
        for line in range(40):
            doc.cell(
                0,
                6,
                f"Page {n + 1} line {line + 1}: the quick brown fox jumps.",
                new_x="LMARGIN",
                new_y="NEXT",
            )
    doc.output(str(path))
    return path


def long_document(srv, work: Path, pages: int) -> list[Row]:
    path = long_pdf(work, pages)
    with srv.client(timeout=600) as c:
        with path.open("rb") as f:
            file_id = c.post("/files", files={"file": (path.name, f)}).json()["id"]
        assert srv.proc is not None
        with PeakRss(srv.proc.pid) as rss:
            t = time.perf_counter()
            r = c.post(
                "/document/generate",
                json={"file_id": file_id, "domain": "document.markdown", "batch": True},
            )
            _until_done(c, r.json()["id"])
            seconds = time.perf_counter() - t
        body = c.get(f"/predictions/{r.json()['id']}").json()
    assert len(body["response"]["pages"]) == pages
    return [
        (
            "embedded",
            f"{pages}-page PDF through document.markdown",
            f"{seconds:.1f} s, {pages / seconds:.0f} pages/s",
            f"server RSS growth {rss.growth_mib:.0f} MiB (target ≤ 200)",
        )
    ]


@contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def rows(work: Path, weed, smoke: bool, stack_names: list[str]) -> list[Row]:
    jobs = 8 if smoke else 200
    pages = 20 if smoke else 500
    out: list[Row] = []
    settings = {"prediction_engines": ENGINES, "log_level": "warning"}
    with _env(PYTHONPATH=str(ROOT)):  # the scripted engine lives in tests/support
        if "embedded" in stack_names:
            with stacks.server("embedded", work, None, **settings) as srv:
                out += overhead("embedded", srv, jobs)
                out += long_document(srv, work, pages)
        if "scale" in stack_names and weed is not None:
            q = {k.removeprefix("VLMFILES_").lower(): v for k, v in queue_env(2).items()}
            # the defaults, not the tests' (maintenance at every broker command)
            q.pop("queue_maintenance_chance")
            q.pop("queue_heartbeat_seconds")
            with stacks.server("scale", work, weed, **settings, **q) as srv:
                workers = Workers(srv)
                try:
                    workers.start(1)
                    out += overhead("scale", srv, jobs)
                    out += throughput(srv, workers, jobs)
                finally:
                    workers.stop()
                    drop_namespace(q["queue_namespace"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.predictions")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--stacks", default="embedded,scale")
    args = ap.parse_args(argv)
    work = stacks.workdir_default()
    names = args.stacks.split(",")
    with stacks.seaweed(work) if "scale" in names else _Null() as weed:
        for r in rows(work, weed, args.smoke, names):
            print("| " + " | ".join(r) + " |")
    return 0


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


if __name__ == "__main__":
    sys.exit(main())
