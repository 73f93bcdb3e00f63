"""Uploads by either method, progress callbacks, and downloads that resume or refuse bad
bytes, with ``Client`` and ``AsyncClient`` against the real server."""

from __future__ import annotations

import io
import os

import pytest

import vlmfiles

from .conftest import aw

MiB = 1024 * 1024


async def read_all(client, file_id: str, start: int = 0) -> bytes:
    if isinstance(client, vlmfiles.AsyncClient):
        return b"".join([c async for c in client.files.content(file_id, start=start)])
    return b"".join(client.files.content(file_id, start=start))


@pytest.mark.parametrize("method", ["direct", "presigned-url"])
async def test_upload_methods_store_the_same_bytes(client, tmp_path, method):
    content = os.urandom(3 * MiB + 5)
    path = tmp_path / "data.bin"
    path.write_bytes(content)
    progress: list[tuple[int, int]] = []

    file = await aw(
        client.files.upload(path, method=method, on_progress=lambda s, t: progress.append((s, t)))
    )

    assert (file.filename, file.bytes) == ("data.bin", len(content))
    assert await read_all(client, file.id) == content
    assert await read_all(client, file.id, start=MiB) == content[MiB:]
    sent = [s for s, _ in progress]
    assert sent == sorted(sent) and progress[-1] == (len(content), len(content))


async def test_download_to_a_directory_takes_the_files_name(client, tmp_path):
    content = os.urandom(1000)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "name.bin").write_bytes(content)
    file = await aw(client.files.upload(tmp_path / "in" / "name.bin"))
    out = tmp_path / "out"
    out.mkdir()
    path = await aw(client.files.download(file.id, out))
    assert path == out / "name.bin" and path.read_bytes() == content
    assert not list(out.glob("*.part"))


async def test_download_resumes_from_a_part_file(client, tmp_path):
    content = os.urandom(2 * MiB + 3)
    (tmp_path / "src.bin").write_bytes(content)
    file = await aw(client.files.upload(tmp_path / "src.bin"))
    target = tmp_path / "dst.bin"
    (tmp_path / "dst.bin.part").write_bytes(content[: MiB + 7])  # an interrupted download
    progress: list[tuple[int, int]] = []

    path = await aw(
        client.files.download(file.id, target, on_progress=lambda g, t: progress.append((g, t)))
    )

    assert path.read_bytes() == content
    assert progress[0][0] > MiB + 7 and progress[-1] == (len(content), len(content))
    assert not (tmp_path / "dst.bin.part").exists()


async def test_download_refuses_bytes_that_do_not_match(client, tmp_path):
    content = os.urandom(4096)
    (tmp_path / "src.bin").write_bytes(content)
    file = await aw(client.files.upload(tmp_path / "src.bin"))
    target = tmp_path / "dst.bin"
    (tmp_path / "dst.bin.part").write_bytes(b"X" * 100)  # a stale, wrong partial file

    with pytest.raises(vlmfiles.VlmFilesError, match="sha256"):
        await aw(client.files.download(file.id, target))
    assert not target.exists() and not (tmp_path / "dst.bin.part").exists()
    # Downloading again, as the message says, works.
    assert (await aw(client.files.download(file.id, target))).read_bytes() == content


class _ChangesAfterHashing(io.BytesIO):
    """A file someone rewrites between the SDK's hash and its upload."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.name = "moving.bin"
        self.passes = 0

    def seek(self, pos: int, whence: int = 0) -> int:
        if pos == 0 and whence == 0:
            self.passes += 1
            if self.passes == 3:  # the rewind before sending (after the hash and its rewind)
                self.getbuffer()[:4] = b"XXXX"
        return super().seek(pos, whence)


async def test_a_file_that_changes_after_hashing_is_refused_not_stored(client):
    """The SDK sends the sha256 it computed with the bytes; the server checks it, so bytes
    that differ from what was hashed are refused rather than stored under the wrong hash."""
    content = os.urandom(3 * MiB)
    f = _ChangesAfterHashing(content)
    with pytest.raises(vlmfiles.ValidationError) as info:
        await aw(client.files.upload(f))
    assert "do not match" in str(info.value)
    assert await aw(client.files.get_cached_file(io.BytesIO(content))) is None
    assert await aw(client.files.get_cached_file(f)) is None
