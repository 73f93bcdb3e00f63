"""The blob store contract: every backend (local disk, S3 on a real SeaweedFS) passes it."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest

from vlmfiles.server.storage import BlobNotFound

from .conftest import MiB, part_size, staging


def put(store, data: bytes, step: int = MiB + 7) -> str:
    """Write ``data`` in odd-sized chunks (so they never line up with parts) and commit."""
    key = hashlib.sha256(data).hexdigest()
    w = store.writer()
    for i in range(0, len(data), step):
        w.write(data[i : i + step])
    w.commit(key)
    return key


def body(store, kind: str) -> bytes:
    p = part_size(store)
    n = {
        "empty": 0,
        "small": 1000,
        "part-1": p - 1,
        "part": p,
        "part+1": p + 1,
        "parts": 2 * p + 12345,
    }[kind]
    return os.urandom(n)


@pytest.mark.parametrize("kind", ["empty", "small", "part-1", "part", "part+1", "parts"])
def test_round_trip(store, kind):
    data = body(store, kind)
    key = put(store, data)
    assert b"".join(store.read(key)) == data
    assert store.exists(key) and store.size(key) == len(data)
    assert list(store.keys()) == [key]
    assert staging(store) == []


def test_ranged_reads(store):
    data = body(store, "parts")
    key = put(store, data)
    p, n = part_size(store), len(data)
    for start, end in [
        (0, 1),
        (0, None),
        (5, 17),
        (p - 3, p + 3),  # across the first part boundary
        (n - 10, None),
        (n - 10, n + 100),  # past the end: what there is
        (n, None),  # at the end: nothing
        (n + 5, None),
        (7, 7),
        (9, 3),
    ]:
        got = b"".join(store.read(key, start, end))
        assert got == data[start:end], (start, end)


@pytest.mark.parametrize("kind", ["small", "parts"])
def test_commit_of_an_existing_key_keeps_the_original(store, kind):
    data = body(store, kind)
    key = put(store, data)
    w = store.writer()
    w.write(b"different bytes under the same key" + data)
    w.commit(key)
    assert b"".join(store.read(key)) == data
    assert staging(store) == []
    assert list(store.keys()) == [key]


def test_identical_commits_racing(store):
    data = body(store, "part+1")
    key = hashlib.sha256(data).hexdigest()
    writers = [store.writer() for _ in range(4)]
    for w in writers:
        w.write(data)
    threads = [threading.Thread(target=w.commit, args=(key,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b"".join(store.read(key)) == data
    assert list(store.keys()) == [key] and staging(store) == []


@pytest.mark.parametrize("kind", ["empty", "small", "parts"])
def test_abort_leaves_nothing(store, kind):
    w = store.writer()
    w.write(body(store, kind))
    w.abort()
    w.abort()  # twice is fine
    assert staging(store) == [] and list(store.keys()) == []


def test_abort_after_commit_keeps_the_blob(store):
    data = body(store, "part+1")
    key = hashlib.sha256(data).hexdigest()
    w = store.writer()
    w.write(data)
    w.commit(key)
    w.abort()
    assert store.size(key) == len(data) and staging(store) == []


def test_exists_size_delete_keys(store):
    a, b = put(store, b"alpha"), put(store, b"bravo")
    assert sorted(store.keys()) == sorted([a, b])
    assert store.exists(a) and store.size(a) == 5
    store.delete(a)
    store.delete(a)  # already gone: no error
    assert not store.exists(a) and store.size(a) is None
    assert list(store.keys()) == [b]


def test_missing_blob(store):
    key = hashlib.sha256(b"never written").hexdigest()
    assert not store.exists(key) and store.size(key) is None
    with pytest.raises(BlobNotFound):
        store.read(key)  # raised at the call, before any iteration
    with pytest.raises(BlobNotFound):
        store.read(key, 10, 20)


def test_keys_must_be_sha256_hex(store):
    for bad in ("../etc/passwd", "ABC", "a" * 63, "g" * 64):
        with pytest.raises(ValueError):
            store.exists(bad)


def test_sweep_removes_a_dead_writers_staging_not_a_live_ones(store):
    p = part_size(store)
    dead = store.writer()  # a writer whose process died: neither committed nor aborted
    dead.write(os.urandom(p + 100))
    if not hasattr(store, "staging"):  # S3: also a staged object completed but never copied
        store.client.put_object(
            Bucket=store.bucket, Key=f"{store.prefix}staging/999999-dead", Body=b"x"
        )
    # S3 timestamps have one-second resolution: leave the dead writer well behind the cutoff.
    time.sleep(3)
    live = store.writer()
    data = os.urandom(p + 200)
    live.write(data)
    before = staging(store)
    assert len(before) >= 2
    assert store.sweep_staging(1.5) >= 1
    after = staging(store)
    assert len(after) == 1, after  # the live writer's only
    key = hashlib.sha256(data).hexdigest()
    live.commit(key)
    assert b"".join(store.read(key)) == data and staging(store) == []
    dead.abort()  # releases the file handle; the sweep already removed the bytes


def test_concurrent_writers_share_one_store(store):
    blobs = [os.urandom(part_size(store) + i * 4099) for i in range(6)]
    keys: list[str] = []
    errors: list[BaseException] = []

    def run(data: bytes) -> None:
        try:
            keys.append(put(store, data))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(d,)) for d in blobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(store.keys()) == sorted(keys)
    for data in blobs:
        assert b"".join(store.read(hashlib.sha256(data).hexdigest())) == data


def test_only_s3_presigns(store):
    # The server sends presigned uploads straight to the store only when it can presign.
    assert hasattr(store, "presign_put") == (not hasattr(store, "staging"))
