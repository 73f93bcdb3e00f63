"""How ``files.upload`` hashes: large new files while they are sent, known files not at all.

On the embedded stack (``/health`` says the sha256 may follow the bytes) a file of 32 MiB or
more is hashed beside its upload, with its sha256 sent after the bytes and checked by the
server; on the S3 stack it is hashed first. A file this process hashed before, unchanged
since, is not hashed again."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest

import vlmfiles
from vlmfiles._uploads import HASH_AHEAD_MIN, known_hashes, open_source, sha256_of

from .conftest import aw, write

MiB = 1024 * 1024
LARGE = HASH_AHEAD_MIN + 8 * MiB


def settled(path: Path, content: bytes) -> Path:
    """Write ``path`` and wait until its last change is over a second old: only then may
    the SDK remember its hash (see ``_HashCache``)."""
    write(path, content)
    time.sleep(1.1)
    return path


async def test_a_large_new_file_is_stored_whole(client, tmp_path, server):
    content = os.urandom(LARGE)
    f = await aw(client.files.upload(write(tmp_path / "big.bin", content), purpose="datasets"))
    assert f.sha256 == hashlib.sha256(content).hexdigest()
    assert f.bytes == len(content)
    on_s3 = server.env.get("VLMFILES_STORAGE_URL", "").startswith("s3")
    assert await aw(client.files._sha256_may_follow()) is (not on_s3)


async def test_a_known_large_file_at_a_new_path_stops_sending_early(client, tmp_path):
    """A copy has a new inode, so its hash is not remembered: it is hashed (beside the
    upload on the embedded stack, which stops as soon as the hash is found; before it on
    S3, which sends nothing)."""
    content = os.urandom(LARGE)
    first = await aw(client.files.upload(write(tmp_path / "a.bin", content), purpose="datasets"))
    sent: list[int] = []

    def slowly(n: int, total: int) -> None:
        sent.append(n)
        time.sleep(0.02)  # a slow link: the hash (tens of ms) is done long before the bytes

    again = await aw(
        client.files.upload(
            write(tmp_path / "b.bin", content), purpose="datasets", on_progress=slowly
        )
    )
    assert again.id == first.id
    assert (sent[-1] if sent else 0) < len(content) // 2
    assert len(await aw(client.files.list())) == 1


async def test_a_large_file_changed_while_it_is_sent_is_refused(client, tmp_path):
    """The file's end is rewritten once sending has begun: by then the hash has read it
    (beside the upload on the embedded stack, before it on S3), so the bytes sent do not
    match the sha256 sent with them, and nothing is stored."""
    content = os.urandom(LARGE)
    path = write(tmp_path / "moving.bin", content)
    state = {"changed": False}

    def rewrite_the_end(n: int, total: int) -> None:
        if not state["changed"]:
            time.sleep(0.5)  # the hash has read the whole file by now
            with open(path, "r+b") as f:
                f.seek(len(content) - MiB)
                f.write(b"\0" * MiB)
            state["changed"] = True

    with pytest.raises(vlmfiles.ValidationError) as info:
        await aw(client.files.upload(path, purpose="datasets", on_progress=rewrite_the_end))
    assert "do not match" in str(info.value)
    assert await aw(client.files.list()) == []


async def test_an_unchanged_file_is_not_hashed_or_sent_again(client, tmp_path):
    path = settled(tmp_path / "same.bin", os.urandom(2 * MiB))
    first = await aw(client.files.upload(path))
    sent: list[int] = []
    again = await aw(client.files.upload(path, on_progress=lambda n, t: sent.append(n)))
    assert again.id == first.id
    assert sent == []


async def test_a_file_rewritten_in_place_is_hashed_again(client, tmp_path):
    """Same size, same mtime (set back with utime): its ctime still moved, so the SDK
    does not trust its memory of the old hash, and the new bytes are uploaded."""
    path = settled(tmp_path / "edited.bin", os.urandom(2 * MiB))
    first = await aw(client.files.upload(path))
    st = path.stat()
    new = os.urandom(2 * MiB)
    with open(path, "r+b") as f:
        f.write(new)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size
    second = await aw(client.files.upload(path))
    assert second.id != first.id
    assert second.sha256 == hashlib.sha256(new).hexdigest()


def test_a_hash_is_remembered_only_once_the_file_has_settled(tmp_path):
    """A file written a moment ago may still be written to within the same tick of the
    file clock, where its stat would not change: its hash is not remembered yet."""
    path = write(tmp_path / "fresh.bin", os.urandom(4096))
    with open(path, "rb") as f:
        source = open_source(f, None)
        digest = sha256_of(source)
        assert known_hashes.get(source) is None
        time.sleep(1.1)
        assert sha256_of(source) == digest
        assert known_hashes.get(source) == digest
    # An in-memory file, or part of a file, is never remembered.
    assert known_hashes.get(open_source(io.BytesIO(b"x" * 4096), None)) is None
    with open(path, "rb") as f:
        f.seek(10)
        assert known_hashes.get(open_source(f, None)) is None
