"""Large uploads: through our SDK, again (de-dup hit), and straight to SeaweedFS with boto3."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from .payload import Payload


def settle() -> None:
    """Let a just-written payload reach the disk and age past a second, as a user's file
    has: its writeback would otherwise compete with the upload being timed, and the SDK
    remembers the hash only of a file that has not changed for a second."""
    os.sync()
    time.sleep(1.1)


def sdk_upload(
    base_url: str, api_key: str, path: Path, purpose: str = "datasets"
) -> tuple[float, str]:
    """Seconds to upload ``path`` with ``vlmfiles.Client`` (hash check included), and the id."""
    from vlmfiles import Client

    client = Client(api_key=api_key, base_url=base_url, timeout=3600)
    try:
        t = time.perf_counter()
        f = client.files.upload(path, purpose=purpose)
        return time.perf_counter() - t, f.id
    finally:
        client.close()


def md5_lag(srv, file_id: str) -> float:
    """Seconds from now until the server shows the file's md5 (computed after the answer)."""
    t = time.perf_counter()
    with srv.client() as c:
        while c.get(f"/files/{file_id}").json()["md5"] is None:
            time.sleep(0.01)
    return time.perf_counter() - t


def s3_put(weed, path: Path, bucket: str) -> float:
    """Seconds for boto3's managed upload of ``path`` straight to SeaweedFS's S3."""
    from boto3.s3.transfer import TransferConfig

    s3 = weed.client()
    try:
        s3.create_bucket(Bucket=bucket)
    except Exception:  # already there
        pass
    t = time.perf_counter()
    key = f"direct-put/{uuid.uuid4().hex}"
    s3.upload_file(str(path), bucket, key, Config=TransferConfig(max_concurrency=4))
    return time.perf_counter() - t


def rates(payload: Payload, seconds: float) -> float:
    return payload.size / 1e6 / seconds
