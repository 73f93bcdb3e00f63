"""A PDF read with pypdfium2: its text layer (with character boxes) or, for a page that has
none, its pixels rendered for OCR. One page at a time: each page is closed before the next is
opened, so memory stays flat whatever the page count.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from ..base import InputRejected, Limits
from .guards import check_pages, check_pixels
from .layout import Line, Page, Word, group_lines
from .markdown import HEADING_MAX_WORDS

OCR_DPI = 300  # tesseract reads best at about 300 dpi
MIN_TEXT_CHARS = 8  # fewer printable characters than this: treat the page as a scan


@dataclass
class PdfPage:
    """One page: either its text layer already read, or an image to OCR."""

    number: int
    page: Page | None
    image: Image.Image | None
    dpi: float = 0.0  # the rendering's resolution, for OCR


def open_pdf(path: Path, limits: Limits, name: str) -> pdfium.PdfDocument:
    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise InputRejected(
                f"{name} is an encrypted PDF that needs a password; send it decrypted"
            ) from e
        raise InputRejected(f"{name} is not a PDF this server can read (malformed: {e})") from e
    try:
        check_pages(len(doc), limits, name)
    except InputRejected:
        doc.close()
        raise
    return doc


def pages(
    doc: pdfium.PdfDocument, limits: Limits, name: str, *, words: bool, selected: list[int] | None
) -> Iterator[PdfPage]:
    """Each page in turn: its text layer as lines (``words=False``: fast, one box per line)
    or as words with boxes (``words=True``: what field location needs); else a rendering."""
    count = len(doc)
    indices = selected if selected is not None else range(count)
    for index in indices:
        if not 0 <= index < count:
            raise InputRejected(f"page index {index} is out of range: {name} has {count} pages")
        page = doc[index]
        try:
            text = page.get_textpage()
            try:
                read = _words(page, text) if words else _lines(page, text)
            finally:
                text.close()
            if read is not None:
                read.number = index + 1
                yield PdfPage(index + 1, read, None)
            else:
                image, dpi = _render(page, limits, f"{name} page {index + 1}")
                yield PdfPage(index + 1, None, image, dpi)
        finally:
            page.close()


def _render(page: pdfium.PdfPage, limits: Limits, what: str) -> tuple[Image.Image, float]:
    scale = OCR_DPI / 72
    width, height = page.get_size()
    w, h = int(width * scale), int(height * scale)
    if w * h > limits.max_pixels:  # a huge page is read at a lower resolution, not refused
        scale *= (limits.max_pixels / (w * h)) ** 0.5
        w, h = int(width * scale), int(height * scale)
    check_pixels(w, h, limits, what)
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        image: Image.Image = bitmap.to_pil().copy()  # the bitmap's buffer goes with close()
        return image, 72 * scale
    finally:
        bitmap.close()


class _Box:
    """Reused ctypes doubles for pdfium's per-character calls."""

    def __init__(self, raw: object, page_height: float) -> None:
        self.raw, self.page_height = raw, page_height
        self.l, self.r, self.b, self.t = (ctypes.c_double() for _ in range(4))

    def x(self, index: int) -> tuple[float, float]:
        pdfium_c.FPDFText_GetCharBox(self.raw, index, self.l, self.r, self.b, self.t)
        return self.l.value, self.r.value

    def word(self, text: str, first: int, last: int) -> Word:
        """A word from its first and last characters: x from their boxes, y from the
        baseline and font size (glyph boxes differ in height: '.' against 'A')."""
        left, _ = self.x(first)
        _, right = self.x(last)
        pdfium_c.FPDFText_GetCharOrigin(self.raw, first, self.l, self.b)
        size = pdfium_c.FPDFText_GetFontSize(self.raw, first) or 1.0
        bottom = self.page_height - self.b.value + 0.25 * size
        return Word(text, left, bottom - size, max(right, left), bottom, size=size)


def _has_text(s: str) -> bool:
    return sum(1 for _ in islice(_LETTER.finditer(s), MIN_TEXT_CHARS)) >= MIN_TEXT_CHARS


_LETTER = re.compile(r"[^\W_]")


def _unchecked(function: Any) -> Any:
    """A pdfium function that returns an int, called without its argtypes: ctypes then
    passes ints, pointers and ``byref()`` as they are, where the checked binding converts
    every argument on every call (most of the markdown path's own time: one call a line)."""
    address = ctypes.cast(function, ctypes.c_void_p).value
    assert address, "pdfium is loaded: its functions have addresses"
    return ctypes.CFUNCTYPE(ctypes.c_int)(address)


# FPDFText_GetCharOrigin(FPDF_TEXTPAGE, int, double*, double*) -> FPDF_BOOL
_char_origin = _unchecked(pdfium_c.FPDFText_GetCharOrigin)


def _lines(page: pdfium.PdfPage, text: pdfium.PdfTextPage) -> Page | None:
    """The text layer in the PDF's own order, one word per line with only what markdown
    needs: where the line sits and its font size (two calls a line: this is the fast path)."""
    s = text.get_text_range().replace("\x00", " ")  # markdown uses NUL as a marker
    if not _has_text(s):
        return None
    height = page.get_height()
    raw, x, y = text.raw, ctypes.c_double(), ctypes.c_double()
    bx, by = ctypes.byref(x), ctypes.byref(y)
    origin, font_size = _char_origin, pdfium_c.FPDFText_GetFontSize
    lines: list[Line] = []
    append = lines.append
    start, sampled, body = 0, 0, 10.0
    for chunk in s.split("\r\n"):
        n = len(chunk)
        stripped = chunk.strip()
        if stripped:
            first = start if chunk[0] != " " else start + n - len(chunk.lstrip())
            origin(raw, first, bx, by)
            # A long line is never a heading: a few give the body size, the rest need none.
            long = stripped.count(" ") >= HEADING_MAX_WORDS
            if not long or sampled < 5:
                sampled += long
                size = font_size(raw, first) or 1.0
                if long:
                    body = size
                box = size
            else:
                size, box = 0.0, body
            bottom = height - y.value + 0.25 * box
            append(Line([Word(stripped, x.value, bottom - box, x.value, bottom, 0, size)]))
        start += n + 2
    return Page(page.get_width(), height, lines, "text-layer")


def _words(page: pdfium.PdfPage, text: pdfium.PdfTextPage) -> Page | None:
    """The text layer as words with boxes (first and last character's), grouped into rows."""
    s = text.get_text_range().replace("\x00", " ")  # markdown uses NUL as a marker
    if not _has_text(s):
        return None
    height = page.get_height()
    box = _Box(text.raw, height)
    words: list[Word] = []
    i, n = 0, len(s)
    while i < n:
        if s[i].isspace():
            i += 1
            continue
        j = i
        while j < n and not s[j].isspace():
            j += 1
        words.append(box.word(s[i:j], i, j - 1))
        i = j
    return Page(page.get_width(), height, group_lines(words), "text-layer")
