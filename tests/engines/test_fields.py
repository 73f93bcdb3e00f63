"""document.invoice / document.receipt on generated documents with known values: every value
read equals what was printed, every field not printed is null, and the answer is the hub's."""

from __future__ import annotations

import pytest
from vlmrun.hub.schemas.document.invoice import Invoice
from vlmrun.hub.schemas.document.receipt import Receipt

from tests.support.invoices import invoice_sample, receipt_sample

HEADLINE_INVOICE = ("invoice_id", "invoice_issue_date", "total_amount", "currency")
HEADLINE_RECEIPT = ("receipt_id", "transaction_date", "total", "currency")


def _payment(response):
    method = response["payment_method"] or {}
    return {"payment_type": method.get("type"), "card_last_4": method.get("card_last_4")}


@pytest.mark.parametrize("seed", range(10))  # every language, currency and layout
def test_invoice_pdf_text_layer_every_printed_field(run, tmp_path, seed):
    sample = invoice_sample(seed)
    result = run("document.invoice", sample.pdf(tmp_path / "invoice.pdf"))
    got = {k: result.response[k] for k in sample.expected}
    assert got == sample.expected
    assert result.response["invoice_number"] == sample.expected["invoice_id"]
    assert result.engine == "offline/pdfium"
    assert (result.elements, result.element_type) == (1, "page")


@pytest.mark.parametrize("seed", [0, 4, 6, 7, 11, 13])
def test_invoice_image_headline_fields(run, tmp_path, seed):
    sample = invoice_sample(seed)
    result = run("document.invoice", sample.image(tmp_path / "invoice.png"))
    assert {k: result.response[k] for k in HEADLINE_INVOICE} == {
        k: sample.expected[k] for k in HEADLINE_INVOICE
    }
    assert result.engine == "offline/tesseract"


@pytest.mark.parametrize("seed", [1, 4, 7])
def test_invoice_scanned_looking_headline_fields(run, tmp_path, seed):
    sample = invoice_sample(seed)
    result = run("document.invoice", sample.image(tmp_path / "scan.jpg", scanned=True))
    assert {k: result.response[k] for k in HEADLINE_INVOICE} == {
        k: sample.expected[k] for k in HEADLINE_INVOICE
    }


@pytest.mark.parametrize("seed", range(6))
def test_receipt_pdf_text_layer_every_printed_field(run, tmp_path, seed):
    sample = receipt_sample(seed)
    response = run("document.receipt", sample.pdf(tmp_path / "receipt.pdf")).response
    got = {**{k: response.get(k) for k in sample.expected}, **_payment(response)}
    assert got == sample.expected


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_receipt_image_headline_fields(run, tmp_path, seed):
    sample = receipt_sample(seed)
    response = run("document.receipt", sample.image(tmp_path / "receipt.png")).response
    assert {k: response[k] for k in HEADLINE_RECEIPT} == {
        k: sample.expected[k] for k in HEADLINE_RECEIPT
    }


def test_a_field_not_printed_is_null(run, tmp_path):
    no_due = next(
        s for s in map(invoice_sample, range(50)) if s.expected["invoice_due_date"] is None
    )
    response = run("document.invoice", no_due.pdf(tmp_path / "a.pdf")).response
    assert response["invoice_due_date"] is None
    # and nothing this generator never prints is made up
    for field in ("order_id", "issuer_vat_id", "payment_terms", "bank_details", "logo_url"):
        assert response[field] is None
    no_number = next(s for s in map(receipt_sample, range(50)) if s.expected["receipt_id"] is None)
    assert run("document.receipt", no_number.pdf(tmp_path / "r.pdf")).response["receipt_id"] is None


def test_a_page_without_a_document_gives_every_field_null(run, tmp_path):
    from PIL import Image

    Image.new("L", (800, 1000), 255).save(tmp_path / "white.png")
    response = run("document.invoice", tmp_path / "white.png").response
    assert set(response) == set(Invoice.model_fields) | {"invoice_number"}
    assert all(v is None for v in response.values()), response


def test_answers_carry_every_hub_field_typed_as_the_hub_types_them(run, tmp_path):
    response = run("document.invoice", invoice_sample(4).pdf(tmp_path / "i.pdf")).response
    assert set(response) == set(Invoice.model_fields) | {"invoice_number"}
    parsed = Invoice(**response)  # dates ISO, amounts float: the hub's own model accepts them
    assert parsed.total_amount == response["total_amount"]
    assert parsed.invoice_issue_date is not None
    assert response["items"] and all(i["total_price"] for i in response["items"])
    receipt = run("document.receipt", receipt_sample(1).pdf(tmp_path / "r.pdf")).response
    assert set(receipt) == set(Receipt.model_fields)
    assert Receipt(**receipt).total == receipt["total"]


def test_invoice_line_items_match_the_printed_table(run, tmp_path):
    sample = invoice_sample(4)
    items = run("document.invoice", sample.pdf(tmp_path / "i.pdf")).response["items"]
    assert sum(i["total_price"] for i in items) == pytest.approx(sample.expected["subtotal"])
    assert all(i["quantity"] and i["unit_price"] and i["description"] for i in items)


def test_transparent_png_and_sideways_phone_photo_are_read(run, tmp_path):
    """A transparent background is laid on white (not black), and EXIF orientation applied."""
    from PIL import Image

    sample = invoice_sample(0)
    page = Image.open(sample.image(tmp_path / "plain.png")).convert("L")
    clear = Image.new("LA", page.size, (0, 0))
    clear.putalpha(page.point(lambda v: 255 - v))  # black text on a fully transparent page
    clear.save(tmp_path / "clear.png")
    got = run("document.invoice", tmp_path / "clear.png").response
    assert got["total_amount"] == sample.expected["total_amount"]

    sideways = page.convert("RGB").rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": how phones store a portrait shot
    sideways.save(tmp_path / "phone.jpg", quality=90, exif=exif)
    result = run("document.invoice", tmp_path / "phone.jpg")
    assert result.response["invoice_id"] == sample.expected["invoice_id"]
    assert (result.elements, result.element_type) == (1, "image")


def test_a_long_invoice_is_read_from_its_first_and_last_pages(run, tmp_path):
    """Fields keep every word they read: of 60 pages, the first and last ten are read, which
    is where the number and the totals are printed."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for n in range(1, 61):
        pdf.add_page()
        if n == 1:
            pdf.text(20, 20, "Invoice No.: LONG-0001")
        elif n == 60:
            pdf.text(120, 40, "Total")
            pdf.text(170, 40, "$9,876.50")
        else:
            pdf.text(20, 20, f"Line items, continued, page {n}")
    pdf.output(str(tmp_path / "long.pdf"))
    result = run("document.invoice", tmp_path / "long.pdf")
    assert (result.response["invoice_id"], result.response["total_amount"]) == ("LONG-0001", 9876.5)
    assert result.response["currency"] == "USD"
    assert result.elements == 20


def test_no_issuer_printed_means_no_issuer_name(run, tmp_path):
    """The customer's block, however large, is never taken for the issuer."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.text(20, 20, "INVOICE")
    pdf.text(20, 35, "Bill To:")
    pdf.set_font("Helvetica", "B", 18)
    pdf.text(20, 43, "Initech LLC")
    pdf.set_font("Helvetica", size=10)
    pdf.text(120, 35, "Invoice No.: A-77")
    pdf.text(120, 80, "Total")
    pdf.text(170, 80, "EUR 310.00")
    pdf.output(str(tmp_path / "anon.pdf"))
    response = run("document.invoice", tmp_path / "anon.pdf").response
    assert response["customer_name"] == "Initech LLC"
    assert response["issuer_name"] is None
    assert (response["invoice_id"], response["total_amount"], response["currency"]) == (
        "A-77",
        310.0,
        "EUR",
    )
