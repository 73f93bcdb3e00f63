"""What only the S3 store does: presigned uploads to incoming/, URL options, bounded memory."""

from __future__ import annotations

import hashlib
import inspect
import os
import threading
import time
import uuid
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from vlmfiles.server.storage import BlobNotFound, open_blob_store
from vlmfiles.server.storage.s3 import S3BlobStore

from .conftest import MiB, open_s3, staging

pytestmark = pytest.mark.s3


def new_upload_id() -> str:
    return f"file_{uuid.uuid4().hex}"


def presigned_put(s3_store, data: bytes, upload_id: str, ttl: int = 60) -> httpx.Response:
    url = s3_store.presign_put(upload_id, ttl, "application/zip")
    # A client holds nothing but the URL: no Authorization header, no AWS keys.
    r = httpx.put(url, content=data, headers={"Content-Type": "application/octet-stream"})
    assert "authorization" not in {k.lower() for k in r.request.headers}
    return r


def test_presigned_put_then_adopt(s3_store):
    data = os.urandom(300_000)
    upload_id = new_upload_id()
    assert s3_store.incoming_size(upload_id) is None
    r = presigned_put(s3_store, data, upload_id)
    assert r.status_code == 200, r.text
    assert s3_store.incoming_size(upload_id) == len(data)
    assert b"".join(s3_store.read_incoming(upload_id)) == data
    key = hashlib.sha256(data).hexdigest()
    s3_store.commit_incoming(upload_id, key)
    assert b"".join(s3_store.read(key)) == data
    assert s3_store.incoming_size(upload_id) is None


def test_adopting_known_content_keeps_the_original(s3_store):
    data = os.urandom(1000)
    key = hashlib.sha256(data).hexdigest()
    w = s3_store.writer()
    w.write(data)
    w.commit(key)
    upload_id = new_upload_id()
    assert presigned_put(s3_store, b"not the same bytes", upload_id).status_code == 200
    s3_store.commit_incoming(upload_id, key)
    assert b"".join(s3_store.read(key)) == data
    assert s3_store.incoming_size(upload_id) is None


def test_delete_and_sweep_incoming(s3_store):
    gone, old, fresh = new_upload_id(), new_upload_id(), new_upload_id()
    for upload_id in (gone, old):
        assert presigned_put(s3_store, b"x" * 10, upload_id).status_code == 200
    s3_store.delete_incoming(gone)
    s3_store.delete_incoming(gone)  # already gone: no error
    assert s3_store.incoming_size(gone) is None
    with pytest.raises(BlobNotFound):
        s3_store.read_incoming(gone)
    time.sleep(3)  # S3 timestamps have one-second resolution
    assert presigned_put(s3_store, b"y" * 10, fresh).status_code == 200
    assert s3_store.sweep_incoming(1.5) == 1
    assert s3_store.incoming_size(old) is None and s3_store.incoming_size(fresh) == 10


def test_expired_presigned_url_is_refused(s3_store):
    upload_id = new_upload_id()
    url = s3_store.presign_put(upload_id, 1, None)
    time.sleep(2.5)
    r = httpx.put(url, content=b"too late")
    assert r.status_code == 403, r.text
    assert s3_store.incoming_size(upload_id) is None


def test_presigned_url_is_for_its_key_only(s3_store):
    url = s3_store.presign_put(new_upload_id(), 60, None)
    other = url.replace("/incoming/file_", "/blobs/file_")
    assert httpx.put(other, content=b"elsewhere").status_code == 403
    bare = url.split("?")[0]  # no signature at all: anonymous writes are refused
    assert httpx.put(bare, content=b"anonymous").status_code == 403


def test_upload_ids_cannot_escape_incoming(s3_store):
    for bad in ("../blobs/x", "a/b", "", "x" * 200):
        with pytest.raises(ValueError):
            s3_store.presign_put(bad, 60, None)


def test_public_endpoint_signs_for_the_clients_address(seaweed, monkeypatch):
    store = open_s3(seaweed, monkeypatch, public_endpoint="https://files.example.com")
    try:
        url = urlsplit(store.presign_put(new_upload_id(), 60, None))
        assert (url.scheme, url.netloc) == ("https", "files.example.com")
        assert url.path.startswith(f"/{store.bucket}/{store.prefix}incoming/file_")
        # The server itself still talks to the internal endpoint.
        assert store.client.meta.endpoint_url == seaweed.endpoint
    finally:
        store.close()


def test_url_parsing(seaweed, monkeypatch):
    for k, v in seaweed.env().items():
        monkeypatch.setenv(k, v)
    base = f"s3://bkt-url/a/b/?endpoint={seaweed.endpoint}&region=us-east-1"
    store = open_blob_store(base + "&part_size_mb=16&path_style=true")
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix, store.part_size) == ("bkt-url", "a/b/", 16 * MiB)
    store.close()
    # Options a URL does not give take the constructor's defaults; those it gives, its own.
    plain = S3BlobStore.from_url(base)
    tuned = S3BlobStore.from_url(base + "&buffer_mb=32&parts_in_flight=3&max_connections=5")
    defaults = inspect.signature(S3BlobStore).parameters
    try:
        assert plain.part_size == defaults["part_size"].default
        assert plain.budget.limit == defaults["buffer_size"].default
        assert plain.parts_in_flight == defaults["parts_in_flight"].default
        assert plain.client.meta.config.max_pool_connections == defaults["max_connections"].default
        assert (tuned.budget.limit, tuned.parts_in_flight) == (32 * MiB, 3)
        assert tuned.client.meta.config.max_pool_connections == 5
    finally:
        plain.close()
        tuned.close()
    # A bad option is refused with what it accepts, not passed on: a pool of no connections
    # failed only at the first upload, parts_in_flight=0 became 1 silently.
    refused = [
        ("&endpiont=x", "unknown storage URL option"),
        ("&part_size_mb=1", "at least 5 MiB"),
        ("&create_bucket=maybe", "true or false"),
        ("&parts_in_flight=two", "parts_in_flight='two': use a whole number"),
        ("&buffer_mb=lots", "buffer_mb='lots': use a number of MiB"),
        ("&max_connections=0", "max_connections='0': use a whole number of at least 1"),
        ("&parts_in_flight=-2", "parts_in_flight='-2': use a whole number of at least 1"),
        ("&buffer_mb=inf", "buffer_mb='inf': use a number of MiB above 0"),
    ]
    for option, message in refused:
        with pytest.raises(ValueError, match=message):
            S3BlobStore.from_url(base + option)


def test_create_bucket(seaweed, monkeypatch):
    for k, v in seaweed.env().items():
        monkeypatch.setenv(k, v)
    bucket = f"created-{uuid.uuid4().hex[:8]}"
    for _ in range(2):  # the second open finds it there
        store = S3BlobStore.from_url(seaweed.storage_url(bucket))
        store.client.head_bucket(Bucket=bucket)
        store.close()


def test_256_mib_stream_keeps_memory_flat(seaweed, monkeypatch):
    """Memory stays near a few parts whatever the blob size: no body is ever held whole.
    Run with the production part size and parts in flight (8 MiB, 2)."""
    s3_store = open_s3(seaweed, monkeypatch, part_size_mb="8")
    try:
        _stream_256_mib(s3_store)
    finally:
        s3_store.close()


def _stream_256_mib(s3_store) -> None:
    proc = psutil.Process()
    chunk = os.urandom(MiB)
    total = 256
    h = hashlib.sha256()
    # Warm up the client (connections, part-upload threads) before the baseline.
    w = s3_store.writer()
    w.write(os.urandom(s3_store.part_size + 1))
    w.abort()
    baseline = proc.memory_info().rss
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        w = s3_store.writer()
        for i in range(total):
            # Vary each chunk so no layer can collapse repeated bytes.
            data = i.to_bytes(4, "big") + chunk[4:]
            h.update(data)
            w.write(data)
        w.commit(h.hexdigest())
    finally:
        stop.set()
        sampler.join()
    growth = (peak - baseline) / MiB
    print(f"RSS growth {growth:.1f} MiB")
    assert s3_store.size(h.hexdigest()) == total * MiB
    assert staging(s3_store) == []
    assert growth < 64, f"RSS grew by {growth:.0f} MiB while streaming {total} MiB"


def test_concurrent_writers_share_a_memory_budget(seaweed, monkeypatch):
    """Many large uploads at once hold no more part memory than the store's budget, and
    all of them finish (a writer waits only while holding no unsent part: no deadlock)."""
    s3_store = open_s3(seaweed, monkeypatch, buffer_mb="15")  # three 5 MiB parts in all
    writers, parts = 8, 3
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def upload(n: int) -> None:
        try:
            w = s3_store.writer()
            h = hashlib.sha256()
            for i in range(parts * 5):  # 1 MiB batches, as the server hands them over
                data = bytes([n, i]) * (MiB // 2)
                h.update(data)
                w.write(data)
            w.commit(h.hexdigest())
            results[n] = h.hexdigest()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    try:
        threads = [threading.Thread(target=upload, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        assert len(results) == writers
        for digest in results.values():
            assert s3_store.size(digest) == parts * 5 * MiB
        assert s3_store.budget.peak <= 15 * MiB
        assert s3_store.budget.peak >= 10 * MiB  # the writers really did contend for it
        assert s3_store.budget.held == 0
        assert staging(s3_store) == []
    finally:
        s3_store.close()


def test_a_writer_that_finds_no_memory_gives_up_with_a_retryable_error(seaweed, monkeypatch):
    from vlmfiles.server.errors import classify_backend_error

    s3_store = open_s3(seaweed, monkeypatch, buffer_mb="5")  # room for one part
    s3_store.budget.wait_seconds = 0.5
    try:
        holder = s3_store.writer()
        holder.write(b"a" * (2 * MiB))  # past the small-file allowance: holds the part
        small = s3_store.writer()
        small.write(b"s" * 4096)  # small bodies never wait for the budget
        small.commit(hashlib.sha256(b"s" * 4096).hexdigest())
        starved = s3_store.writer()
        with pytest.raises(TimeoutError) as info:
            starved.write(b"b" * (2 * MiB))
        assert classify_backend_error(info.value).status_code == 503
        assert "busy with other large uploads" in classify_backend_error(info.value).message
        starved.abort()
        holder.abort()  # gives its part back
        assert s3_store.budget.held == 0
        again = s3_store.writer()
        again.write(b"c" * (2 * MiB))
        again.commit(hashlib.sha256(b"c" * (2 * MiB)).hexdigest())
        assert s3_store.budget.held == 0
        assert staging(s3_store) == []
    finally:
        s3_store.close()


def test_a_declared_key_is_written_in_place_and_swept_if_abandoned(s3_store):
    data = os.urandom(2 * s3_store.part_size + 123)
    key = hashlib.sha256(data).hexdigest()
    w = s3_store.writer()
    w.expect(key)
    w.write(data)
    # The multipart upload is open under the final key itself (nothing visible there yet).
    assert any("/blobs/" in e or e.startswith("blobs/") for e in staging(s3_store))
    assert not s3_store.exists(key)
    w.commit(key)
    assert s3_store.size(key) == len(data)
    assert b"".join(s3_store.read(key)) == data
    assert staging(s3_store) == []  # no staged copy was ever made

    # A writer that dies after expect(): its multipart upload under blobs/ is swept, the
    # committed blob beside it is not.
    other = os.urandom(2 * s3_store.part_size)
    dead = s3_store.writer()
    dead.expect(hashlib.sha256(other).hexdigest())
    dead.write(other)
    dead._wait()
    assert staging(s3_store) != []
    assert s3_store.sweep_staging(0) >= 1
    assert staging(s3_store) == []
    assert s3_store.size(key) == len(data)
