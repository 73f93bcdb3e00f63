"""A PDF read with pypdfium2: its text layer (with character boxes) or, for a page that has
none, its pixels rendered for OCR. One page at a time: each page is closed before the next is
opened, so memory stays flat whatever the page count.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from ..base import InputRejected, Limits
from .guards import check_pages, check_pixels
from .layout import Line, Page, Word, group_lines

OCR_DPI = 300  # tesseract reads best at about 300 dpi
MIN_TEXT_CHARS = 8  # fewer printable characters than this: treat the page as a scan


@dataclass
class PdfPage:
    """One page: either its text layer already read, or an image to OCR."""

    number: int
    page: Page | None
    image: Image.Image | None


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
    indices = selected if selected is not None else range(len(doc))
    for index in indices:
        if not 0 <= index < len(doc):
            raise InputRejected(f"page index {index} is out of range: {name} has {len(doc)} pages")
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
                yield PdfPage(index + 1, None, _render(page, limits, f"{name} page {index + 1}"))
        finally:
            page.close()


def _render(page: pdfium.PdfPage, limits: Limits, what: str) -> Image.Image:
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
        return image
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


def _lines(page: pdfium.PdfPage, text: pdfium.PdfTextPage) -> Page | None:
    """The text layer in the PDF's own order, one box per line (two char boxes a line)."""
    s = text.get_text_range()
    if sum(ch.isalnum() for ch in s[:4096]) < MIN_TEXT_CHARS:
        return None
    height = page.get_height()
    box = _Box(text.raw, height)
    lines: list[Line] = []
    start = 0
    for chunk in s.split("\r\n"):
        end = start + len(chunk)
        stripped = chunk.strip()
        if stripped:
            first = start + (len(chunk) - len(chunk.lstrip()))
            last = start + len(chunk.rstrip()) - 1
            lines.append(Line([box.word(stripped, first, last)]))
        start = end + 2
    return Page(page.get_width(), height, lines, "text-layer")


def _words(page: pdfium.PdfPage, text: pdfium.PdfTextPage) -> Page | None:
    """The text layer as words with boxes (first and last character's), grouped into rows."""
    s = text.get_text_range()
    if sum(ch.isalnum() for ch in s[:4096]) < MIN_TEXT_CHARS:
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
