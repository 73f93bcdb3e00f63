"""Which S3 client streams a large body to SeaweedFS fastest? boto3 against obstore.

    .venv/bin/pip install obstore      # only for this benchmark; not a dependency
    .venv/bin/python bench/s3_clients.py [--mib 256] [--runs 3]

Starts its own SeaweedFS on loopback ports (tests/support/seaweed.py), streams the same
generated body (never held whole: 1 MiB chunks) through each client, and prints MB/s,
median of ``--runs`` runs. The rows:

- boto3 managed: ``upload_fileobj`` (multipart, 8 MiB parts, 10 threads);
- obstore: ``obstore.put`` from an iterator (multipart, 8 MiB parts, 12 concurrent);
- vlmfiles writer: ``S3BlobStore.writer()`` as the server uses it (8 MiB parts, two in
  flight), writing only, then the commit (server-side copy to blobs/) timed apart.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.support

from tests.support.seaweed import start_seaweed  # noqa: E402

MiB = 1024 * 1024
BUCKET = "bench"


def chunks(mib: int) -> Iterator[bytes]:
    base = os.urandom(MiB)
    for i in range(mib):
        yield i.to_bytes(4, "big") + base[4:]  # distinct chunks, cheap to make


class ChunkReader:
    """A read()-able file over ``chunks`` (boto3's upload_fileobj wants a file)."""

    def __init__(self, mib: int) -> None:
        self._it = chunks(mib)
        self._buf = bytearray()

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            nxt = next(self._it, None)
            if nxt is None:
                break
            self._buf += nxt
        if n < 0:
            n = len(self._buf)
        out = bytes(memoryview(self._buf)[:n])
        del self._buf[:n]
        return out


def s3_client(sw):
    """boto3 configured as S3BlobStore configures it (no per-part CRC32, path style)."""
    from vlmfiles.server.storage.s3 import S3BlobStore

    os.environ.update(sw.env())
    return S3BlobStore.from_url(sw.storage_url(BUCKET)).client


def boto3_managed(sw, mib: int) -> None:
    from boto3.s3.transfer import TransferConfig

    client = s3_client(sw)
    cfg = TransferConfig(
        multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=10
    )
    client.upload_fileobj(ChunkReader(mib), BUCKET, f"boto3/{uuid.uuid4().hex}", Config=cfg)


def obstore_put(sw, mib: int) -> None:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=sw.endpoint,
        region=sw.region,
        access_key_id=sw.access_key,
        secret_access_key=sw.secret_key,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    obstore.put(store, f"obstore/{uuid.uuid4().hex}", chunks(mib), chunk_size=8 * MiB)


def vlmfiles_writer(sw, mib: int, commits: list[float]) -> None:
    from vlmfiles.server.storage.s3 import S3BlobStore

    os.environ.update(sw.env())
    store = S3BlobStore.from_url(sw.storage_url(BUCKET, prefix=f"w-{uuid.uuid4().hex[:6]}"))
    h = hashlib.sha256()
    w = store.writer()
    for c in chunks(mib):
        h.update(c)
        w.write(c)
    t = time.perf_counter()
    w.commit(h.hexdigest())
    commits.append(time.perf_counter() - t)
    store.close()


def measure(fn: Callable[[], None], mib: int, runs: int) -> list[float]:
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        rates.append(mib * MiB / 1e6 / (time.perf_counter() - t))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sw = start_seaweed(Path(tempfile.mkdtemp(prefix="bench-seaweed-")))
    try:
        sw.client().create_bucket(Bucket=BUCKET)
        print(f"SeaweedFS ready in {sw.started_in:.1f}s; {args.mib} MiB body, {args.runs} runs\n")
        commits: list[float] = []
        rows = [
            ("boto3 managed (upload_fileobj)", lambda: boto3_managed(sw, args.mib)),
            ("obstore (put from iterator)", lambda: obstore_put(sw, args.mib)),
            ("vlmfiles writer (write only)", None),
        ]
        print(f"{'client':34} {'median MB/s':>12}   runs")
        for name, fn in rows:
            if fn is None:
                # Commit time is measured apart: the rate is the streaming part only.
                def run() -> None:
                    vlmfiles_writer(sw, args.mib, commits)

                rates = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    run()
                    elapsed = time.perf_counter() - t - commits[-1]
                    rates.append(args.mib * MiB / 1e6 / elapsed)
            else:
                rates = measure(fn, args.mib, args.runs)
            runs = ", ".join(f"{r:.0f}" for r in rates)
            print(f"{name:34} {statistics.median(rates):12.0f}   {runs}")
        print(
            f"\nvlmfiles commit (server-side copy of {args.mib} MiB): median "
            f"{statistics.median(commits):.2f}s"
        )
    finally:
        sw.stop()


if __name__ == "__main__":
    main()
