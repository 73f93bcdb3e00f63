"""A simple invoice drawn with Pillow (real text, a known number and total), as an image or
a one-page image PDF, for tests that read invoices back through a prediction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


@dataclass(frozen=True)
class Invoice:
    number: str
    total: float
    issuer: str = "ACME Tools Ltd"
    customer: str = "Globex Corporation"
    date: str = "2024-03-15"

    def lines(self) -> list[list[str]]:
        """The page's lines; a line of several cells is a table row (columns aligned)."""
        half = round(self.total / 2, 2)
        return [
            [self.issuer],
            ["12 Market Street, Springfield"],
            [],
            ["INVOICE"],
            [f"Invoice Number: {self.number}"],
            [f"Invoice Date: {self.date}"],
            [f"Bill To: {self.customer}"],
            [],
            ["Description", "Qty", "Amount"],
            ["Steel bolts", "1", f"${half:,.2f}"],
            ["Copper wire", "1", f"${self.total - half:,.2f}"],
            [],
            [f"Total: ${self.total:,.2f}"],
        ]


def draw(invoice: Invoice) -> Image.Image:
    """The invoice on a white A4-ish page at ~150 dpi, black text in a bundled font."""
    image = Image.new("RGB", (1240, 1754), "white")
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)  # Pillow's own font: no system fonts needed
    y = 120
    for line in invoice.lines():
        for x, cell in zip((110, 640, 820), line, strict=False):
            pen.text((x, y), cell, fill="black", font=font)
        y += 62
    return image


def save(invoice: Invoice, path: str | Path) -> Path:
    """Write the invoice as PNG, JPEG or PDF, by ``path``'s suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = draw(invoice)
    if path.suffix.lower() == ".pdf":
        image.save(path, "PDF", resolution=150)
    elif path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, "JPEG", quality=92)
    else:
        image.save(path, "PNG")
    return path
