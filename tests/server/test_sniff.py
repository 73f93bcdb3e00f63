"""Type detection: the same verdict as filetype's own guess, text told apart here."""

from __future__ import annotations

import io
import os
import zipfile

import filetype
import pytest

from tests.support.videos import CONTAINERS, make_video
from vlmfiles.server.sniff import SNIFF_BYTES, detect


def _zip(entries: list[tuple[str, bytes]], stored_first: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, (name, data) in enumerate(entries):
            kind = zipfile.ZIP_STORED if stored_first and i == 0 else zipfile.ZIP_DEFLATED
            z.writestr(name, data, compress_type=kind)
    return buf.getvalue()


DOCX = _zip(
    [
        ("[Content_Types].xml", b"<Types/>"),
        ("_rels/.rels", b"<Relationships/>"),
        ("word/document.xml", b"<w:document/>"),
    ]
)
ODT = _zip(
    [("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<x/>")],
    stored_first=True,
)
BINARIES = {
    "random": os.urandom(4096),
    "png": b"\x89PNG\r\n\x1a\n" + os.urandom(4088),
    "jpeg": b"\xff\xd8\xff\xe0" + os.urandom(4092),
    "pdf": b"%PDF-1.7\n" + os.urandom(2000),
    "zip": _zip([("a.txt", b"hello")]),
    "docx": DOCX,
    "odt": ODT,
    "gzip": b"\x1f\x8b\x08" + os.urandom(500),
}


@pytest.mark.parametrize("name", sorted(BINARIES))
def test_binary_types_are_what_filetype_says(name):
    head = BINARIES[name][:8192]
    kind = filetype.guess(head)
    assert detect(head) == (kind.mime if kind else "application/octet-stream")


def test_office_documents_are_still_recognised():
    assert detect(DOCX) == filetype.guess(DOCX).mime
    assert "wordprocessingml" in detect(DOCX)
    assert detect(ODT) == "application/vnd.oasis.opendocument.text"


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b'{"a": 1}', "application/json"),
        (b"<svg xmlns='x'></svg>", "image/svg+xml"),
        (b"<!DOCTYPE html><p>", "text/html"),
        (b"plain words\n", "text/plain"),
        (b"", "text/plain"),
    ],
)
def test_text_is_told_apart(head, mime):
    assert detect(head) == mime


@pytest.mark.parametrize(("fmt", "codec", "suffix", "media_type"), CONTAINERS)
def test_common_videos_are_video_types(tmp_path, fmt, codec, suffix, media_type):
    """The prediction pipeline hands engines this type (predictions/fetch.py sniffs the head)."""
    path = make_video(tmp_path / f"clip.{suffix}", seconds=1, fmt=fmt, codec=codec)
    with path.open("rb") as f:
        assert detect(f.read(SNIFF_BYTES)) == media_type
