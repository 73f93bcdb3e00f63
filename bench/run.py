"""The benchmark: one command, one table. See docs/benchmarks.md.

    .venv/bin/python -m bench.run                 # full run (1 GiB, 100k/1M listing, 2 GiB memory)
    .venv/bin/python -m bench.run --smoke         # about a minute: the form CI runs so it cannot rot

Every figure that is compared is measured in the same run on the same machine; times are
medians of --repeats runs. This machine is noisy: read the ratios, not the absolutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

from . import limits, listing, small, stacks, uploads
from .memory import PeakRss
from .payload import MiB, Payload

Row = tuple[str, str, str, str]


def _median(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def large_uploads(stack: str, srv, weed, work: Path, size: int, repeats: int) -> list[Row]:
    rows: list[Row] = []
    payload = Payload(size)
    limit_hash = _median(lambda: limits.hash_rate(payload), repeats)
    limit_disk = _median(lambda: limits.disk_rate(payload, srv.data_dir), repeats)
    limit = min(limit_hash, limit_disk)
    rows.append(
        (stack, f"limit: md5‖sha256 (2 threads), {size // MiB} MiB", f"{limit_hash:.0f} MB/s", "")
    )
    rows.append((stack, "limit: write + fsync to the data disk", f"{limit_disk:.0f} MB/s", ""))
    fresh = _median(limits.fresh_memory_rate, repeats)
    rows.append(
        (stack, "machine: first touch of fresh memory", f"{fresh:.0f} MB/s", "context, see docs")
    )

    times, dedup, dedup_copy, md5_lag = [], [], [], []
    for _ in range(repeats):
        p = Payload(size)  # new bytes each time: a first upload, not a de-dup hit
        path = p.write(work / f"large-{uuid.uuid4().hex[:6]}.bin")
        uploads.settle()
        seconds, file_id = uploads.sdk_upload(srv.base_url, srv.api_key, path)
        times.append(seconds)
        md5_lag.append(uploads.md5_lag(srv, file_id))
        again, same = uploads.sdk_upload(srv.base_url, srv.api_key, path)
        assert same == file_id, "a re-upload must return the same file"
        dedup.append(again / seconds)
        copy = work / f"copy-{uuid.uuid4().hex[:6]}.bin"
        shutil.copyfile(path, copy)
        uploads.settle()
        again, same = uploads.sdk_upload(srv.base_url, srv.api_key, copy)
        assert same == file_id, "a copy's upload must return the same file"
        dedup_copy.append(again / seconds)
        with srv.client() as c:
            c.delete(f"/files/{file_id}")
        path.unlink()
        copy.unlink()
    rate = size / 1e6 / statistics.median(times)
    rows.append(
        (
            stack,
            "large upload through the SDK",
            f"{rate:.0f} MB/s",
            f"{rate / limit:.2f} × limit (target ≥ 0.8)",
        )
    )
    lag = statistics.median(md5_lag)
    rows.append(
        (
            stack,
            "md5 filled in after the upload's answer",
            f"{lag:.2f} s later",
            f"{lag / statistics.median(times):.2f} × the upload's time",
        )
    )
    rows.append(
        (
            stack,
            "re-upload of a known file (de-dup hit)",
            f"{statistics.median(dedup):.3f} × first upload",
            "target ≤ 0.3",
        )
    )
    rows.append(
        (
            stack,
            "upload of a copy of it (new path: hashed again)",
            f"{statistics.median(dedup_copy):.3f} × first upload",
            "",
        )
    )
    if weed is not None:
        path = payload.write(work / "direct.bin")
        bucket = f"direct-{uuid.uuid4().hex[:6]}"
        uploads.s3_put(weed, path, bucket)  # untimed: a new bucket grows volumes (see WARMUP)
        s3 = _median(lambda: uploads.s3_put(weed, path, bucket), repeats)
        path.unlink()
        s3_rate = size / 1e6 / s3
        rows.append(
            (
                stack,
                "same bytes PUT straight to SeaweedFS S3 (boto3)",
                f"{s3_rate:.0f} MB/s",
                f"ours = {rate / s3_rate:.2f} × S3 (target ≥ 3)",
            )
        )
    return rows


def upload_methods(stack: str, srv, work: Path, size: int, repeats: int) -> list[Row]:
    """The SDK's two ways up, on new bytes each time: which should method="auto" pick?"""
    from vlmfiles import Client

    rates: dict[str, list[float]] = {"direct": [], "presigned-url": []}
    with Client(api_key=srv.api_key, base_url=srv.base_url, timeout=3600) as client:
        for _ in range(repeats):
            for method in rates:
                path = Payload(size).write(work / f"method-{uuid.uuid4().hex[:6]}.bin")
                t = time.perf_counter()
                f = client.files.upload(path, purpose="datasets", method=method, force=True)
                rates[method].append(size / 1e6 / (time.perf_counter() - t))
                client.files.delete(f.id)
                path.unlink()
    direct, presigned = (statistics.median(rates[m]) for m in ("direct", "presigned-url"))
    return [
        (stack, f"SDK upload, method=direct, {size // MiB} MiB", f"{direct:.0f} MB/s", ""),
        (
            stack,
            f"SDK upload, method=presigned-url, {size // MiB} MiB",
            f"{presigned:.0f} MB/s",
            f"direct = {direct / presigned:.2f} × presigned",
        ),
    ]


# Untimed requests each target gets first. A new SeaweedFS bucket stalls its first writes
# for up to a second or so while it grows volumes: timed from cold, SeaweedFS measured at a
# quarter of its steady rate (raw socket: ~650/s against ~2,800/s warm on the 2-core machine).
WARMUP = 400


def small_files(stack: str, srv, weed, total: int, repeats: int) -> list[Row]:
    rows: list[Row] = []
    suffix = uuid.uuid4().hex[:6]
    # Two SeaweedFS buckets: as it comes (a PUT is answered before its bytes reach the disk),
    # and with fsync on (`fs.configure -fsync`: one fsync per PUT), durable as ours are.
    buckets = (
        {"SeaweedFS": f"small-{suffix}", "SeaweedFS with fsync": f"synced-{suffix}"}
        if weed is not None
        else {}  # a smoke run of the embedded stack alone starts no SeaweedFS
    )
    warmup = min(WARMUP, total)
    small.run(8, warmup, small.raw_ours(srv.origin, srv.api_key))
    for name, bucket in buckets.items():
        urls = small.presigned_put_urls(weed, bucket, warmup)  # creates the bucket
        if name == "SeaweedFS with fsync":
            weed.fsync_bucket(bucket)
        small.run(8, warmup, small.raw_presigned(urls))
    clients = {
        "httpx": (
            lambda: small.httpx_ours(srv.base_url, srv.api_key),
            lambda bucket, n: small.httpx_presigned(small.presigned_put_urls(weed, bucket, n)),
        ),
        "raw socket": (
            lambda: small.raw_ours(srv.origin, srv.api_key),
            lambda bucket, n: small.raw_presigned(small.presigned_put_urls(weed, bucket, n)),
        ),
    }
    for workers in (8, 64):
        n = max(total, workers * 4)
        ours: dict[str, list[small.Result]] = {client: [] for client in clients}
        theirs: dict[tuple[str, str], list[small.Result]] = {
            (client, name): [] for client in clients for name in buckets
        }
        # The targets take turns, one measurement each, so a drift of the (shared) machine
        # during the row hits them alike; a ratio is the median of the per-turn ratios.
        for _ in range(repeats):
            for client, (mine, seaweed) in clients.items():
                ours[client].append(small.run(workers, n, mine()))
                for name, bucket in buckets.items():
                    theirs[client, name].append(small.run(workers, n, seaweed(bucket, n)))
        for client in clients:
            r = small.median_result(ours[client])
            ratios = []
            for name in buckets:
                other = small.median_result(theirs[client, name])
                turns = [
                    a.rate / b.rate for a, b in zip(ours[client], theirs[client, name], strict=True)
                ]
                ratios.append(
                    f"{statistics.median(turns):.2f} × {name} ({other.rate:.0f}/s, p99 "
                    f"{other.p99_ms:.1f} ms; turns {min(turns):.2f}–{max(turns):.2f})"
                )
            rows.append(
                (
                    stack,
                    f"4 KiB uploads, {workers} clients, {client}",
                    f"{r.rate:.0f}/s p50 {r.p50_ms:.1f} ms p99 {r.p99_ms:.1f} ms"
                    + (f" ({r.errors} errors)" if r.errors else ""),
                    "; ".join(ratios),
                )
            )
    return rows


def listings(stack: str, srv, sizes: list[int]) -> list[Row]:
    rows: list[Row] = []
    done = 0
    tenant = f"list-{uuid.uuid4().hex[:6]}"
    key = srv.new_key(tenant)
    for n in sizes:
        listing.fill(srv.database_url, tenant, done, n - done)
        done = n
        with srv.client(key) as c:
            res = listing.measure(c, n)
        first = res["first page"][1]
        for name, (p50, p99) in res.items():
            note = ""
            if name == "first page":
                note = "target p99 ≤ 20 ms"
            elif "cursor" in name:
                note = f"{p99 / first:.2f} × first page p99 (target ≤ 2)"
            rows.append(
                (stack, f"list {n:,} files: {name}", f"p50 {p50:.1f} ms p99 {p99:.1f} ms", note)
            )
    return rows


def memory(stack: str, srv, work: Path, size: int) -> list[Row]:
    from vlmfiles import Client

    payload = Payload(size)
    path = payload.write(work / "memory.bin")
    client = Client(api_key=srv.api_key, base_url=srv.base_url, timeout=3600)
    try:
        with PeakRss(srv.proc.pid) as server_up, PeakRss() as client_up:
            f = client.files.upload(path, purpose="datasets")
        out = work / "memory.out"
        with PeakRss(srv.proc.pid) as server_down, PeakRss() as client_down:
            client.files.download(f.id, out)
        h = hashlib.sha256()
        with open(out, "rb") as fh:
            while chunk := fh.read(MiB):
                h.update(chunk)
        assert h.hexdigest() == f.sha256
        client.files.delete(f.id)
    finally:
        client.close()
        path.unlink(missing_ok=True)
        (work / "memory.out").unlink(missing_ok=True)
    gib = f"{size / 2**30:.1f} GiB"
    return [
        (
            stack,
            f"peak RSS growth, {gib} upload",
            f"server {server_up.growth_mib:.0f} MiB, client {client_up.growth_mib:.0f} MiB",
            "target ≤ 64 MiB",
        ),
        (
            stack,
            f"peak RSS growth, {gib} download",
            f"server {server_down.growth_mib:.0f} MiB, client {client_down.growth_mib:.0f} MiB",
            "target ≤ 64 MiB",
        ),
    ]


def run_stack(stack: str, srv, weed, work: Path, args, only: set[str]) -> list[Row]:
    sections = {
        "large": lambda: large_uploads(stack, srv, weed, work, args.size_mb * MiB, args.repeats),
        "methods": lambda: upload_methods(stack, srv, work, args.size_mb * MiB // 2, args.repeats),
        "small": lambda: small_files(stack, srv, weed, args.small_total, args.repeats),
        "list": lambda: listings(stack, srv, [int(s) for s in args.list_sizes.split(",")]),
        "memory": lambda: memory(stack, srv, work, args.memory_mb * MiB),
    }
    rows: list[Row] = []
    for name, section in sections.items():
        if name in only:
            new = section()
            rows += new
            for r in new:  # as they come, so a long run shows progress
                print("  " + " | ".join(r), file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="large upload size (MiB)")
    ap.add_argument("--memory-mb", type=int, default=2048, help="memory row file size (MiB)")
    ap.add_argument("--small-total", type=int, default=2000, help="4 KiB uploads per measurement")
    ap.add_argument("--list-sizes", default="100000,1000000", help="listing depths")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stacks", default="embedded,scale")
    ap.add_argument(
        "--workers", type=int, default=1, help="server processes (vlmfiles serve --workers)"
    )
    ap.add_argument(
        "--only", default="large,methods,small,list,memory,engine,predictions", help="which rows"
    )
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat (CI)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    if args.smoke:
        args.size_mb, args.memory_mb, args.small_total = 16, 16, 64
        args.list_sizes, args.repeats = "2000", 1
    only = set(args.only.split(","))
    work = stacks.workdir_default()
    rows: list[Row] = []
    t0 = time.time()
    with stacks.seaweed(work) if "scale" in args.stacks or not args.smoke else _null() as weed:
        for stack in args.stacks.split(","):
            env = {"workers": str(args.workers)} if args.workers > 1 else {}
            label = f"{stack}, {args.workers} workers" if args.workers > 1 else stack
            with stacks.server(stack, work, weed if stack == "scale" else None, **env) as srv:
                rows += run_stack(label, srv, weed, work, args, only)
        if "predictions" in only:  # servers of their own, with the scripted engine
            from . import predictions

            rows += predictions.rows(work, weed, args.smoke, args.stacks.split(","))
    if "engine" in only:  # the offline engine, in-process: no server (bench/ocr.py)
        from . import ocr

        rows += ocr.rows(work, args.smoke)
    print(
        f"\nvlmfiles benchmark — {time.strftime('%Y-%m-%d %H:%M')}, {_machine()}, {time.time() - t0:.0f} s\n"
    )
    print("| stack | measure | result | ratio / target |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _machine() -> str:
    import os
    import platform

    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


if __name__ == "__main__":
    sys.exit(main())
