"""Peak RSS growth of the SDK while it uploads and downloads one large file.

    python -m bench.sdk_memory --base-url http://127.0.0.1:8000/v1 --api-key KEY --size 2G
    python -m bench.sdk_memory --base-url URL --api-key KEY --size-mb 2048     # the same

Writes a file of ``--size`` bytes (unique content, so the server cannot de-duplicate it),
uploads it with ``Client.files.upload``, downloads it with ``Client.files.download``, and
prints the client process's peak RSS growth over its baseline for each step. The SDK
streams both ways, so growth stays flat whatever the size; ``tests/sdk`` runs a small form.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.memory import PeakRss

CHUNK = 1024 * 1024
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


def parse_size(text: str) -> int:
    """``2G``, ``64M``, ``512K`` or a plain number of bytes."""
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1] if text and text[-1] in UNITS else ""
    return int(float(text[: len(text) - len(unit)]) * UNITS[unit])


def write_file(path: Path, size: int) -> str:
    """``size`` unique bytes at ``path`` (written in chunks); their sha256."""
    digest = hashlib.sha256()
    seed = os.urandom(16)
    with path.open("wb") as out:
        left, n = size, 0
        while left:
            block = hashlib.sha256(seed + n.to_bytes(8, "big")).digest() * (CHUNK // 32)
            block = block[: min(CHUNK, left)]
            out.write(block)
            digest.update(block)
            left -= len(block)
            n += 1
    return digest.hexdigest()


def measure(base_url: str, api_key: str, size: int, workdir: Path, method: str = "auto") -> dict:
    """Upload then download ``size`` bytes; peak RSS growth (MiB) and speed of each step."""
    import vlmfiles

    src, dst = workdir / "sdk-memory.bin", workdir / "sdk-memory.out"
    sha = write_file(src, size)
    result: dict[str, Any] = {"size": size}
    with vlmfiles.Client(api_key=api_key, base_url=base_url, timeout=600) as client:
        client.files.list(limit=1)  # warm up: imports, connection pool, TLS
        with PeakRss() as rss:
            t0 = time.perf_counter()
            uploaded = client.files.upload(src, method=method)  # type: ignore[arg-type]
            elapsed = time.perf_counter() - t0
        result["upload_mib"], result["upload_s"] = rss.growth_mib, elapsed
        with PeakRss() as rss:
            t0 = time.perf_counter()
            client.files.download(uploaded.id, dst)
            elapsed = time.perf_counter() - t0
        result["download_mib"], result["download_s"] = rss.growth_mib, elapsed
        result["intact"] = uploaded.sha256 in (None, sha) and dst.stat().st_size == size
        client.files.delete(uploaded.id)
    src.unlink()
    dst.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("VLMFILES_BASE_URL"))
    parser.add_argument("--api-key", default=os.environ.get("VLMFILES_API_KEY"))
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--size", default="2G", help="bytes, or with K/M/G (default 2G)")
    size.add_argument("--size-mb", type=int, help="size in MiB (--size-mb 2048 is --size 2G)")
    parser.add_argument("--method", default="auto", choices=["auto", "direct", "presigned-url"])
    parser.add_argument("--dir", default=None, help="where to write the test file")
    args = parser.parse_args()
    nbytes = args.size_mb * 2**20 if args.size_mb is not None else parse_size(args.size)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        r = measure(args.base_url, args.api_key, nbytes, Path(tmp), args.method)
    mib = r["size"] / 2**20
    print(f"size {mib:.0f} MiB, method {args.method}, intact {r['intact']}")
    for step in ("upload", "download"):
        speed = mib / r[f"{step}_s"] if r[f"{step}_s"] else float("inf")
        print(
            f"{step:9s} peak RSS growth {r[f'{step}_mib']:7.1f} MiB"
            f"  {r[f'{step}_s']:6.1f} s  {speed:7.1f} MiB/s"
        )


if __name__ == "__main__":
    main()
