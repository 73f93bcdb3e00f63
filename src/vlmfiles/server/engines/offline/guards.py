"""Hostile inputs stop here, before any page or pixel is decoded.

Every check reads only what a header says (a PDF's page count, an image's width and height)
and raises ``InputRejected`` with a sentence that says what was found and what is accepted.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

from PIL import Image, ImageOps

from ..base import EngineInput, InputRejected, JobTimeout, Limits

PDF = "application/pdf"
IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/tiff", "image/webp", "image/bmp", "image/gif"}
)


def check_deadline(limits: Limits, what: str) -> None:
    if time.monotonic() > limits.deadline:
        raise JobTimeout(f"the job ran past its time limit {what}")


def check_not_empty(item: EngineInput) -> None:
    if item.path.stat().st_size == 0:
        raise InputRejected(f"{item.name} is empty (0 bytes): send a PDF or an image")


def check_pixels(width: int, height: int, limits: Limits, what: str) -> None:
    if width <= 0 or height <= 0:
        raise InputRejected(f"{what} has no pixels ({width} x {height})")
    if width * height > limits.max_pixels:
        raise InputRejected(
            f"{what} is {width:,} x {height:,} = {width * height:,} pixels; "
            f"the limit is {limits.max_pixels:,} pixels"
        )


def check_pages(count: int, limits: Limits, name: str) -> None:
    if count > limits.max_pages:
        raise InputRejected(
            f"{name} has {count:,} pages; the limit is {limits.max_pages:,} pages per document"
        )
    if count == 0:
        raise InputRejected(f"{name} is a PDF with no pages")


def open_image(path: Path, limits: Limits, name: str) -> Image.Image:
    """Open lazily (the header only), check the pixel count, and only then decode."""
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns above its global limit; ours (below) decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as e:  # over twice Pillow's own limit: no size given
        m = re.search(r"\((\d+) pixels\)", str(e))
        pixels = f"{int(m.group(1)):,} pixels" if m else "too many pixels"
        raise InputRejected(
            f"{name} has {pixels} (from its header); the limit is {limits.max_pixels:,} pixels"
        ) from e
    except (OSError, SyntaxError, ValueError) as e:
        raise InputRejected(f"{name} is not an image this server can read: {e}") from e
    try:
        check_pixels(img.width, img.height, limits, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except InputRejected:
        img.close()
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        img.close()
        raise InputRejected(f"{name} is a damaged or truncated image: {e}") from e
    upright = ImageOps.exif_transpose(img)  # a phone photo of a receipt, stored sideways
    if upright is not img:
        img.close()
    return upright
