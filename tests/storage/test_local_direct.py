"""The local store writes blobs with O_DIRECT: past the page cache, and safely around it."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess

import pytest

from vlmfiles.server.storage import local
from vlmfiles.server.storage.local import LocalBlobStore

from .conftest import MiB, staging


def cached_bytes(path) -> int:
    """Bytes of ``path`` in the page cache (util-linux's ``fincore``, i.e. mincore(2))."""
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.strip())


def write_in_odd_chunks(w, data: bytes) -> None:
    for i in range(0, len(data), MiB + 7):
        w.write(data[i : i + MiB + 7])


def put(store: LocalBlobStore, data: bytes) -> str:
    """Store ``data`` in pieces that do not line up with the store's buffers; its key."""
    key = hashlib.sha256(data).hexdigest()
    w = store.writer()
    write_in_odd_chunks(w, data)
    w.commit(key)
    return key


@pytest.mark.parametrize(
    "size",
    [10 * MiB + 12345, 4 * local.DIRECT_BUFFER, 3 * local.DIRECT_BUFFER + local.ALIGN],
    ids=["odd", "whole-buffers", "whole-blocks"],
)
def test_a_large_blob_goes_past_the_page_cache(tmp_path, size):
    # An upload's bytes are read again rarely; through the page cache they would take (and
    # on a VM, fault in) as much memory as the file, and push out what is read often.
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(size)
    key = put(store, data)
    assert store.direct
    assert cached_bytes(store.path_for(key)) <= local.ALIGN  # at most the tail's page
    assert b"".join(store.read(key)) == data
    assert staging(store) == []


def test_a_file_system_without_o_direct_gets_the_page_cache(tmp_path, monkeypatch):
    refuse = local._set_direct

    def set_direct(fd: int, on: bool) -> None:
        if on:
            raise OSError(errno.EINVAL, "Invalid argument")
        refuse(fd, on)

    monkeypatch.setattr(local, "_set_direct", set_direct)
    store = LocalBlobStore(tmp_path / "blobs")
    blobs = [os.urandom(n) for n in (5 * MiB + 1, 3 * MiB, 100)]
    for data in blobs:
        assert b"".join(store.read(put(store, data))) == data
    assert not store.direct  # found out at the first large blob, not asked again
    assert staging(store) == []


def test_a_failed_disk_write_fails_the_blob_and_leaves_nothing(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path / "blobs")
    writes = 0
    real = local._write_all_from

    def full_disk(fd, buf):
        nonlocal writes
        writes += 1
        if writes == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, buf)

    monkeypatch.setattr(local, "_write_all_from", full_disk)
    data = os.urandom(12 * MiB)
    w = store.writer()
    with pytest.raises(OSError) as caught:
        write_in_odd_chunks(w, data)
        w.commit(hashlib.sha256(data).hexdigest())
    assert caught.value.errno == errno.ENOSPC
    w.abort()
    assert staging(store) == [] and list(store.keys()) == []


@pytest.mark.parametrize(
    "size", [0, 100, local.DIRECT_BUFFER, 2 * local.DIRECT_BUFFER, 5 * MiB + 12345]
)
def test_a_blob_read_once_comes_back_whole_and_leaves_no_cache(tmp_path, size):
    # The md5 filled in after an upload reads the blob once: it should not fault the whole
    # file into the page cache, and its buffer-ahead must give every byte in order.
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(size)
    key = put(store, data)
    md5 = hashlib.md5()
    for chunk in store.read_once(key):
        md5.update(chunk)
    assert md5.hexdigest() == hashlib.md5(data).hexdigest()
    assert cached_bytes(store.path_for(key)) <= local.ALIGN


def test_a_read_once_stopped_early_gives_its_buffers_back(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path / "blobs")
    key = put(store, os.urandom(3 * local.DIRECT_BUFFER))
    taken = []  # kept alive, so that two distinct buffers cannot share an id
    take = local._buffers.take

    def take_and_note():
        taken.append(take())
        return taken[-1]

    monkeypatch.setattr(local._buffers, "take", take_and_note)
    for _ in range(20):
        chunks = store.read_once(key)
        assert len(next(chunks)) == local.DIRECT_BUFFER
        chunks.close()  # a reader that stops early (a cancelled md5)
    assert len(taken) == 40 and len({id(b) for b in taken}) == 2  # given back each time
    with pytest.raises(local.BlobNotFound):
        store.read_once("0" * 64)


def test_a_file_system_that_opens_o_direct_but_refuses_its_reads_is_read_cached(
    tmp_path, monkeypatch
):
    # Some FUSE file systems take O_DIRECT at open() and refuse the reads with EINVAL: the
    # md5 filled in after an upload must still come out right.
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(2 * local.DIRECT_BUFFER + 12345)
    key = put(store, data)
    real = os.preadv

    def preadv(fd, buffers, offset):
        if local.fcntl.fcntl(fd, local.fcntl.F_GETFL) & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", preadv)
    assert b"".join(bytes(c) for c in store.read_once(key)) == data
    assert not store.direct  # found out once, not asked again
    assert b"".join(bytes(c) for c in store.read_once(key)) == data


def test_direct_io_can_be_switched_off_by_the_storage_url(tmp_path):
    from vlmfiles.server.storage import open_blob_store

    assert not open_blob_store((tmp_path / "a").as_uri() + "?direct=false").direct
    with pytest.raises(ValueError, match="direct"):
        open_blob_store((tmp_path / "b").as_uri() + "?direct=maybe")
