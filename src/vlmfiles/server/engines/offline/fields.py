"""Fields located on a page by label and position: a label's value is the rest of its cell,
else the cell to its right on the same row, else the cell below it (the two ways forms and
invoices print a value next to its label), never a cell that starts with a label of its own.
Nothing is guessed past that: no label, no value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from . import labels, values
from .layout import Line, Page, group_lines

T = TypeVar("T")


def fold(text: str) -> str:
    """Lower case without accents, same length as ``text`` (so offsets carry over)."""
    return "".join(unicodedata.normalize("NFKD", c)[:1] or c for c in text).lower()


@dataclass
class Cell:
    text: str
    folded: str
    x0: float
    y0: float
    x1: float
    y1: float
    row: int  # index into Document.rows
    page: int

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def match(self, pattern: re.Pattern[str]) -> int | None:
        """Where a label at the start of this cell ends (an offset into ``text``), or None.
        Tried again with the spaces taken out: OCR splits words ("Dat e:")."""
        m = pattern.match(self.folded)
        if m:
            return m.end()
        keep = [i for i, ch in enumerate(self.folded) if not ch.isspace()]
        compact = "".join(self.folded[i] for i in keep)
        m = pattern.match(compact)
        if m and m.end() > 0:
            return keep[m.end() - 1] + 1
        return None

    def is_label(self) -> bool:
        return any(self.match(label) is not None for label in labels.ANY_FIELD)


@dataclass
class Row:
    cells: list[Cell]
    page: int

    @property
    def text(self) -> str:
        return "  ".join(c.text for c in self.cells)


class Document:
    """Every page's words regrouped into rows (across layout blocks) and cells (columns)."""

    def __init__(self, pages: Sequence[Page]) -> None:
        self.pages = list(pages)
        self.rows: list[Row] = []
        for page in pages:
            for line in group_lines(list(page.words)):
                row = Row([], page.number)
                for part in line.cells():
                    row.cells.append(_cell(part, len(self.rows), page.number))
                self.rows.append(row)
        self.decimal_comma = values.decimal_comma(self.text)

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.rows)

    def cells(self) -> Iterable[Cell]:
        for row in self.rows:
            yield from row.cells


def _cell(line: Line, row: int, page: int) -> Cell:
    text = line.text
    return Cell(text, fold(text), line.x0, line.y0, line.x1, line.y1, row, page)


@dataclass
class Found:
    value: object
    label: Cell
    source: Cell  # the cell the value was read from


_SEPARATORS = " \t:#.-–|/"


def locate(
    doc: Document,
    labels: re.Pattern[str],
    parse: Callable[[str], T | None],
    *,
    last: bool = False,
    exclude: re.Pattern[str] | None = None,
) -> tuple[T, Found] | None:
    """The value of the first (or ``last``) cell that starts with a label and has a value."""
    cells = list(doc.cells())
    if last:
        cells.reverse()
    for cell in cells:
        end = cell.match(labels)
        if end is None or (exclude is not None and cell.match(exclude) is not None):
            continue
        for text, source in _candidates(doc, cell, end):
            value = parse(text)
            if value is not None:
                return value, Found(value, cell, source)
    return None


def _candidates(doc: Document, label: Cell, end: int) -> Iterable[tuple[str, Cell]]:
    rest = label.text[end : _next_label(label.folded, end)].lstrip(_SEPARATORS).strip()
    if rest and label.text[end - 1 : end].isalnum() and label.text[end : end + 1].isalnum():
        rest = ""  # the label ran into a longer word ("Totally..."): not this label
    if rest:
        yield rest, label
    row = doc.rows[label.row]
    # every cell to the right in turn: "VAT | (20%) | 40.00" has its amount in the second
    near = [c for c in row.cells if c.x0 >= label.x1 - 1] + below(doc, label)
    # a cell that starts with a label holds that field's value, never this one's
    yield from ((c.text, c) for c in near if not c.is_label())


def _next_label(folded: str, start: int) -> int:
    """Where another "Label:" starts in a cell after a "Label:" ending at ``start`` ("No: A-7
    Date: 2024-03-15"), else the cell's end: what follows it is that label's value."""
    if not folded[start:].lstrip().startswith(":"):
        return len(folded)  # "Subtotal excl. VAT: 100" is one label
    for m in re.finditer(r"(?<=\s)\S", folded[start:]):
        at = start + m.start()
        for label in labels.ANY_FIELD:
            hit = label.match(folded, at)
            if hit and folded[hit.end() :].lstrip().startswith(":"):
                return at
    return len(folded)


def below(doc: Document, cell: Cell, rows: int = 2) -> list[Cell]:
    """Cells under ``cell`` (overlapping its columns), in the next ``rows`` rows, nearest first."""
    out: list[Cell] = []
    limit = cell.y1 + 3.5 * max(cell.height, 1.0) * rows
    for row in doc.rows[cell.row + 1 : cell.row + 1 + rows]:
        if row.page != cell.page:
            break
        for c in row.cells:
            if c.y0 > limit:
                return out
            if c.x0 < cell.x1 and c.x1 > cell.x0 - cell.height:
                out.append(c)
                break
    return out


def block_below(doc: Document, cell: Cell, max_rows: int = 6) -> list[Cell]:
    """The lines of a block printed under a heading such as "Bill to", in its column."""
    out: list[Cell] = []
    prev = cell
    for row in doc.rows[cell.row + 1 : cell.row + 1 + max_rows]:
        if row.page != cell.page:
            break
        hit = next((c for c in row.cells if abs(c.x0 - cell.x0) < 3 * cell.height), None)
        if hit is None or hit.y0 - prev.y1 > 2.5 * max(prev.height, 1.0):
            break
        out.append(hit)
        prev = hit
    return out


_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_/.]*\d[A-Za-z0-9\-_/]*|\d[A-Za-z0-9\-_/]*")


def identifier(text: str) -> str | None:
    """An id as printed: the first token with a digit in it ('#INV-0042' → 'INV-0042')."""
    for token in text.replace("#", " ").split():
        token = token.strip(":.,;()")
        if re.fullmatch(r"(?i)n[o°º]\.?|nr\.?|no|number", token):
            continue
        m = _ID_RE.fullmatch(token)
        if m:
            return m.group(0).rstrip(".")
    return None


def plain_text(text: str) -> str | None:
    text = text.strip(" :")
    return text if re.search(r"[^\W\d_]", text) else None
