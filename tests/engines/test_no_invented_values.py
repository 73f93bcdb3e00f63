"""A field is read right or is null: never another field's value. When a label's own value
cannot be read (OCR reads "INV-CLI-0" as "INV-CLI-O"), the cell under it or beside it that
starts with another label ("Invoice Date: 2024-03-15") is that label's, not this one's."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

DATE = "2024-03-15"


def _pillow_invoice(path, number):
    """An invoice drawn as a client would: Pillow's bundled font, one "Label: value" a line."""
    lines = [
        "ACME Tools Ltd",
        "12 Market Street, Springfield",
        "",
        "INVOICE",
        f"Invoice Number: {number}",
        f"Invoice Date: {DATE}",
        "Bill To: Globex Corporation",
        "",
        "Total: $1,234.50",
    ]
    image = Image.new("RGB", (1240, 1754), "white")
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    for i, line in enumerate(lines):
        pen.text((110, 120 + 62 * i), line, fill="black", font=font)
    image.save(path)
    return path


@pytest.mark.parametrize("number", ["INV-CLI-0", "INV-CLI-1", "A-0", "12", "INV-5100"])
def test_an_unreadable_invoice_number_is_null_not_the_next_lines_date(run, tmp_path, number):
    response = run("document.invoice", _pillow_invoice(tmp_path / "inv.png", number)).response
    assert response["invoice_id"] in (number, None)
    assert response["invoice_number"] == response["invoice_id"]
    assert (response["invoice_issue_date"], response["total_amount"]) == (DATE, 1234.5)


def _pdf(path, texts):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for x, y, text in texts:
        pdf.text(x, y, text)
    pdf.output(str(path))
    return path


@pytest.mark.parametrize(
    "texts",
    [
        # the number's own cell holds no id; the line under it is the date's
        [(20, 30, "Invoice No.: pending"), (20, 36, f"Invoice Date: {DATE}")],
        # label alone, the next cell on its row is another label's
        [(20, 30, "Invoice No.:"), (80, 30, f"Date: {DATE}")],
        # two "Label: value" pairs in one cell
        [(20, 30, f"Invoice No.: pending  Date: {DATE}")],
    ],
    ids=["line-below", "cell-right", "same-cell"],
)
def test_a_label_without_its_value_never_takes_another_labels_value(run, tmp_path, texts):
    page = _pdf(tmp_path / "inv.pdf", [(20, 20, "INVOICE"), *texts, (20, 60, "Total: EUR 80.00")])
    response = run("document.invoice", page).response
    assert response["invoice_id"] is None
    assert response["total_amount"] == 80.0
