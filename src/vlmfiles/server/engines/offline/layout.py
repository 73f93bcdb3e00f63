"""What a page reads as: words with boxes, grouped into lines and blocks, whatever read them.

Both readers (``pdf.py`` for a text layer, ``ocr.py`` for pixels) produce a ``Page`` in the
same shape, top-left origin, in the reader's own unit (PDF points or image pixels); the
domains (``markdown.py``, ``fields.py``) only ever see this shape.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal


@dataclass(slots=True)  # not frozen: a frozen dataclass is several times slower to build
class Word:
    text: str
    x0: float
    y0: float  # top
    x1: float
    y1: float  # bottom
    block: int = 0  # the reader's layout block (tesseract's), or 0 when it has none
    size: float = 0.0  # font size (text layer) or line height (OCR): what tells a heading

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(slots=True)
class Line:
    words: list[Word]
    block: int = 0

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def x0(self) -> float:
        return min(w.x0 for w in self.words)

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def y0(self) -> float:
        return min(w.y0 for w in self.words)

    @property
    def y1(self) -> float:
        return max(w.y1 for w in self.words)

    @property
    def height(self) -> float:
        if len(self.words) == 1:
            return self.words[0].height
        return statistics.median(w.height for w in self.words)

    def cells(self) -> list[Line]:
        """The line cut where words stand apart by more than ~1.5 character heights (columns)."""
        out: list[Line] = []
        gap = 1.2 * self.height
        for w in self.words:
            if out and w.x0 - out[-1].words[-1].x1 <= gap:
                out[-1].words.append(w)
            else:
                out.append(Line([w], self.block))
        return out


@dataclass
class Page:
    width: float
    height: float
    lines: list[Line]
    source: Literal["text-layer", "ocr"]
    number: int = 1  # 1-based, in the input
    notes: list[str] = field(default_factory=list)

    @property
    def words(self) -> Iterable[Word]:
        for line in self.lines:
            yield from line.words

    def body_height(self) -> float:
        """The typical text height on the page: what a heading is measured against."""
        heights = [line.height for line in self.lines if line.words]
        return statistics.median(heights) if heights else 0.0


def group_lines(words: Sequence[Word]) -> list[Line]:
    """Words into lines (vertical overlap), lines top to bottom, words left to right.

    A word joins the line whose vertical middle band it overlaps; so a label and a value
    printed at different sizes on one baseline still share a line.
    """
    lines: list[Line] = []
    for w in sorted(words, key=lambda w: (w.y0 + w.y1) / 2):
        mid = (w.y0 + w.y1) / 2
        for line in reversed(lines[-4:]):
            top, bottom = line.y0, line.y1
            band = (bottom - top) * 0.25
            inner = w.height * 0.25
            if (
                top + band <= mid <= bottom - band
                or w.y0 + inner <= (top + bottom) / 2 <= w.y1 - inner
            ):
                line.words.append(w)
                break
        else:
            lines.append(Line([w], w.block))
    for line in lines:
        line.words.sort(key=lambda w: w.x0)
    lines.sort(key=lambda line: line.y0)
    return lines
