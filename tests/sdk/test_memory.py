"""``AsyncClient`` uploads and downloads stream: the client process's memory does not grow
with the file (64 MiB here). ``test_memory_bench.py`` checks ``Client`` the same way through
``bench/sdk_memory.py``, which also runs bigger sizes."""

from __future__ import annotations

import gc
import hashlib
import os

import pytest

import vlmfiles
from bench.memory import PeakRss

MiB = 1024 * 1024
SIZE = 64 * MiB


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "big.bin"
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(SIZE // MiB):
            block = os.urandom(MiB)
            h.update(block)
            f.write(block)
    gc.collect()
    return path, h.hexdigest()


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    return h.hexdigest()


async def test_async_upload_and_download_stream(server, key, big_file, tmp_path):
    path, digest = big_file
    async with vlmfiles.AsyncClient(key, server.base_url) as client:
        with PeakRss() as up:
            file = await client.files.upload(path)
        with PeakRss() as down:
            out = await client.files.download(file.id, tmp_path / "back.bin")
    assert file.bytes == SIZE and file.sha256 == digest
    assert sha256_of(out) == digest
    assert up.growth_mib < 64, up.growth_mib
    assert down.growth_mib < 64, down.growth_mib
