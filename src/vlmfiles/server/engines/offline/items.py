"""Line items: the rows of an item table under a header row (invoices), or the priced rows
above the totals (receipts). A row's numbers are assigned to the header column they sit
under; a number with no column is left out rather than guessed.
"""

from __future__ import annotations

import re
from typing import Any

from . import labels as L
from . import values
from .fields import Cell, Document, Row

_QTY_PREFIX = re.compile(r"^(\d{1,3})\s*[xX×@]\s+")
_TOTALS = (L.SUBTOTAL, L.TOTAL, L.TAX, L.AMOUNT_DUE, L.DISCOUNT, L.SHIPPING, L.TIP)


def _is_totals_row(row: Row) -> bool:
    return any(p.match(row.cells[0].folded) for p in _TOTALS)


def _number(text: str, comma: bool | None) -> float | None:
    text = text.strip()
    if not re.fullmatch(r"[^\w]{0,4}[-(]?[\d.,' ]+\)?\s?[^\w\s]{0,3}\s?[A-Z]{0,3}", text):
        return None
    return values.amount(text, comma)


def _header(doc: Document) -> tuple[int, dict[str, Cell]] | None:
    for i, row in enumerate(doc.rows):
        if len(row.cells) < 2:
            continue
        cols: dict[str, Cell] = {}
        for cell in row.cells:
            f = cell.folded.strip()
            if "description" not in cols and L.ITEM_DESCRIPTION.match(f):
                cols["description"] = cell
            elif "quantity" not in cols and L.ITEM_QTY.match(f):
                cols["quantity"] = cell
            elif "unit_price" not in cols and L.ITEM_UNIT.match(f):
                cols["unit_price"] = cell
            elif "total_price" not in cols and L.ITEM_TOTAL.match(f):
                cols["total_price"] = cell
        if "description" in cols and len(cols) >= 2:
            return i, cols
    return None


def _column(cell: Cell, cols: dict[str, Cell]) -> str | None:
    """The numeric column a cell sits under: overlapping it, nearest right edge first."""
    best: tuple[float, str] | None = None
    for name, head in cols.items():
        if name == "description":
            continue
        overlap = min(cell.x1, head.x1) - max(cell.x0, head.x0)
        distance = abs(cell.x1 - head.x1)
        if overlap > -head.height * 2 and (best is None or distance < best[0]):
            best = (distance, name)
    return best[1] if best else None


def invoice_items(doc: Document) -> list[dict[str, Any]]:
    found = _header(doc)
    if found is None:
        return []
    start, cols = found
    items: list[dict[str, Any]] = []
    for row in doc.rows[start + 1 :]:
        if row.page != doc.rows[start].page or _is_totals_row(row):
            break
        item: dict[str, Any] = dict.fromkeys(
            ("description", "quantity", "unit_price", "total_price")
        )
        words = []
        for cell in row.cells:
            number = _number(cell.text, doc.decimal_comma)
            column = _column(cell, cols) if number is not None else None
            if number is not None and column is not None and item[column] is None:
                item[column] = number
            elif number is None:
                words.append(cell.text)
        if not words or all(item[k] is None for k in ("quantity", "unit_price", "total_price")):
            if items:
                break  # the table ended
            continue
        item["description"] = " ".join(words)
        items.append(item)
    return items


def receipt_items(doc: Document) -> list[dict[str, Any]]:
    """Rows that read "description ... price" above the first totals row."""
    items: list[dict[str, Any]] = []
    end = next((i for i, r in enumerate(doc.rows) if _is_totals_row(r)), None)
    if end is None:
        return items
    for row in doc.rows[:end]:
        if len(row.cells) < 2:
            continue
        price = _number(row.cells[-1].text, doc.decimal_comma)
        text = " ".join(c.text for c in row.cells[:-1]).strip()
        if price is None or not re.search(r"[^\W\d_]{2}", text) or ":" in text:
            continue
        if any(p.match(row.cells[0].folded) for p in (L.RECEIPT_ID, L.TRANSACTION_DATE, L.PHONE)):
            continue
        qty = None
        m = _QTY_PREFIX.match(text)
        if m:
            qty, text = float(m.group(1)), text[m.end() :]
        items.append(
            {"description": text, "quantity": qty, "unit_price": None, "total_price": price}
        )
    return items
