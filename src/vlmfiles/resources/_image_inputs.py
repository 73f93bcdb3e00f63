"""Images for ``image.generate``: local paths and PIL images as ``data:`` URLs.

A path's bytes are sent as they are (no re-encoding, so no quality lost and no Pillow
needed), typed from their first bytes. A PIL image is saved as PNG (lossless); Pillow is
only touched when the caller passes one, so the SDK never imports it itself.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Any

MAX_INLINE_IMAGE = 20 * 1024 * 1024
"""Largest image sent inline: base64 in a JSON body costs memory on both sides; larger
images go up with ``files.upload`` and are passed by ``urls=[file.url]``."""

_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
]


def is_pil_image(value: object) -> bool:
    # Only a loaded Pillow can have made a PIL image: never import it ourselves.
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(value, pil.Image)


def is_image_input(value: object) -> bool:
    return isinstance(value, (str, os.PathLike)) or is_pil_image(value)


def media_type(head: bytes) -> str | None:
    """The image type these first bytes announce, or None."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _data_url(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def encode_image(image: Any) -> str:
    """A path or a PIL image as a ``data:`` URL; raises with a sentence saying what to do."""
    if is_pil_image(image):
        import io

        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return _data_url("image/png", buffer.getvalue())
    path = Path(image)
    size = path.stat().st_size  # FileNotFoundError for a path that does not exist
    if size > MAX_INLINE_IMAGE:
        raise ValueError(
            f"{path} is {size} bytes, over the {MAX_INLINE_IMAGE} sent inline: upload it with "
            "client.files.upload and pass urls=[file.url] instead"
        )
    with open(path, "rb") as f:
        data = f.read(MAX_INLINE_IMAGE + 1)  # bounded by the size check above
    kind = media_type(data[:16])
    if kind is None:
        raise ValueError(
            f"{path} is not a PNG, JPEG, WebP, GIF, TIFF or BMP image; for a PDF or another "
            "document use client.document.generate(file=...)"
        )
    return _data_url(kind, data)
