"""The model engine's pipeline measured against a model endpoint of fixed latency.

    .venv/bin/python -m bench.model [--smoke] [--jobs 64] [--latency 0.2] [--concurrency 1,4,8]

A fake OpenAI server (tests/support/fake_openai.py) answers every request after ``latency``
seconds; a `vlmfiles serve --vlm-base-url ...` (embedded) with `vlm_max_concurrency` C and
more worker threads than C runs ``jobs`` `batch=true` document.invoice jobs on a small PNG.
Row per C: jobs/s, the ideal C / latency, their ratio (near 1: the pipeline is not the
bottleneck), the most requests the fake saw in flight at once (never above C: the bound),
and the server process's CPU per job (the part of the pipeline a faster endpoint exposes).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import shutil
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.support

from bench import stacks  # noqa: E402
from tests.support.fake_openai import FakeOpenAI  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

Row = tuple[str, str, str, str, str]


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _drive(srv: ServerProcess, jobs: int) -> tuple[float, int]:
    """Seconds from the first job's creation to the last one's end, on the server's clock
    (polling cannot stretch it); how many completed. One list call a poll, 4 a second,
    so the bench's own requests take little of the server's CPU."""
    body = {"images": [_png()], "domain": "document.invoice", "batch": True}
    with srv.client(timeout=120) as c:
        for _ in range(jobs):
            c.post("/image/generate", json=body).raise_for_status()
        while True:
            rows = c.get("/predictions", params={"limit": jobs}).json()
            if all(r["status"] in ("completed", "failed") for r in rows):
                break
            time.sleep(0.25)
    first = min(_at(r["created_at"]) for r in rows)
    last = max(_at(r["completed_at"]) for r in rows)
    return last - first, sum(r["status"] == "completed" for r in rows)


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def measure(work: Path, fake: FakeOpenAI, concurrency: int, jobs: int) -> tuple[Row, int]:
    """One row at ``concurrency``, and the peak of requests in flight the fake saw."""
    data_dir = work / f"server-model-{uuid.uuid4().hex[:6]}"
    env = {
        "VLMFILES_LOG_LEVEL": "warning",
        "VLMFILES_VLM_API_KEY": fake.api_key,
        "VLMFILES_VLM_MAX_CONCURRENCY": str(concurrency),
        "VLMFILES_WORKER_THREADS": str(max(4, 2 * concurrency)),  # jobs wait on the bound only
    }
    srv = ServerProcess(data_dir=data_dir, env=env)
    srv.start("--vlm-base-url", fake.base_url, "--vlm-model", fake.model)
    try:
        fake.reset()
        assert srv.proc is not None
        cpu = psutil.Process(srv.proc.pid).cpu_times
        before = cpu()
        seconds, done = _drive(srv, jobs)
        after = cpu()
    finally:
        srv.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    if done != jobs:
        raise SystemExit(f"only {done} of {jobs} jobs completed")
    rate, ideal = jobs / seconds, concurrency / fake.latency
    server_cpu = (after.user - before.user) + (after.system - before.system)
    row = (
        "embedded",
        f"{jobs} model jobs, {fake.latency * 1000:.0f} ms endpoint, vlm_max_concurrency {concurrency}",
        f"{rate:.1f} jobs/s (peak {fake.peak_in_flight} in flight)",
        f"{rate / ideal:.2f} × ideal {ideal:.1f} jobs/s",
        f"server CPU {1000 * server_cpu / jobs:.0f} ms/job",
    )
    return row, fake.peak_in_flight


def rows(work: Path, smoke: bool, jobs: int, latency: float, levels: list[int]) -> list[Row]:
    out: list[Row] = []
    with FakeOpenAI(latency=latency) as fake:
        for c in levels:
            row, peak = measure(work, fake, c, 8 if smoke else jobs)
            if peak > c:
                raise SystemExit(f"{peak} requests in flight at once; the bound was {c}")
            out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.model")
    ap.add_argument("--smoke", action="store_true", help="8 jobs per level")
    ap.add_argument("--jobs", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", default="1,4,8")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    found = rows(stacks.workdir_default(), args.smoke, args.jobs, args.latency, levels)
    for r in found:
        print("| " + " | ".join(r) + " |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
