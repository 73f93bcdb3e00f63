"""Hostile inputs: each is refused with a sentence saying what was wrong and what is
accepted, from headers alone (no page or pixel decoded), and the engine goes on working."""

from __future__ import annotations

import struct
import zlib

import pypdfium2 as pdfium
import pytest
from fpdf import FPDF

from vlmfiles.server.engines import InputRejected, JobTimeout


def _png(path, width: int, height: int, rows: int | None = None):
    """A real PNG header for width x height grey pixels; ``rows`` rows of zeros in IDAT
    (all of them: a decompression bomb; a few: a truncated giant)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    z = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    body = b"".join(z.compress(row) for _ in range(height if rows is None else rows)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )
    return path


def _assert_still_works(run, tmp_path):
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.text(20, 20, "Still reading documents after a hostile one")
    pdf.output(str(tmp_path / "ok.pdf"))
    assert (
        "Still reading"
        in run("document.markdown", tmp_path / "ok.pdf").response["pages"][0]["content"]
    )


def test_encrypted_pdf(run, tmp_path):
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.text(20, 20, "Secret invoice")
    pdf.output(str(tmp_path / "locked.pdf"))
    with pytest.raises(InputRejected, match="encrypted PDF that needs a password"):
        run("document.markdown", tmp_path / "locked.pdf")
    _assert_still_works(run, tmp_path)


@pytest.mark.parametrize(
    "body",
    [b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", b"%PDF-1.4\n" + b"\x00garbage" * 500, b"%PDF"],
)
def test_malformed_pdf(run, tmp_path, body):
    (tmp_path / "bad.pdf").write_bytes(body)
    with pytest.raises(InputRejected, match="not a PDF this server can read"):
        run("document.invoice", tmp_path / "bad.pdf")
    _assert_still_works(run, tmp_path)


def test_ten_thousand_page_pdf_is_refused_before_any_page_is_read(run, tmp_path):
    doc = pdfium.PdfDocument.new()
    for _ in range(10_000):
        doc.new_page(612, 792).close()
    doc.save(tmp_path / "huge.pdf")
    doc.close()
    with pytest.raises(InputRejected, match=r"has 10,000 pages; the limit is 500 pages"):
        run("document.markdown", tmp_path / "huge.pdf", max_pages=500)


def test_decompression_bomb_png(run, tmp_path):
    bomb = _png(tmp_path / "bomb.png", 12_000, 12_000)  # 144 MB of pixels from ~150 KB
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(InputRejected, match=r"12,000 x 12,000 = 144,000,000 pixels; the limit is"):
        run("image.classification", bomb, max_pixels=50_000_000)
    _assert_still_works(run, tmp_path)


@pytest.mark.parametrize("domain", ["document.invoice", "image.classification"])
def test_thirty_thousand_square_image(run, tmp_path, domain):
    giant = _png(tmp_path / "giant.png", 30_000, 30_000, rows=2)  # header says 900 Mpx
    with pytest.raises(InputRejected, match=r"900,000,000 pixels.*the limit is 50,000,000 pixels"):
        run(domain, giant)


def test_a_huge_pdf_page_is_rendered_within_the_pixel_limit(run, tmp_path):
    """A page 5 m across with no text layer is OCR'd at a lower resolution, not refused."""
    doc = pdfium.PdfDocument.new()
    doc.new_page(14_400, 14_400).close()
    doc.save(tmp_path / "wide.pdf")
    doc.close()
    result = run("document.markdown", tmp_path / "wide.pdf", max_pixels=4_000_000)
    assert result.response == {"pages": [{"content": ""}]}
    assert result.engine == "offline/tesseract"


@pytest.mark.parametrize("suffix", [".pdf", ".png"])
def test_zero_byte_file(run, tmp_path, suffix):
    (tmp_path / f"empty{suffix}").write_bytes(b"")
    with pytest.raises(InputRejected, match=r"empty \(0 bytes\)"):
        run("document.invoice", tmp_path / f"empty{suffix}")


def test_truncated_image(run, tmp_path):
    from tests.support.invoices import invoice_sample

    data = invoice_sample(1).image(tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputRejected, match="damaged or truncated image"):
        run("document.invoice", tmp_path / "cut.png")


def test_a_type_the_domain_does_not_take(run, tmp_path):
    (tmp_path / "notes.txt").write_text("Invoice 42")
    with pytest.raises(InputRejected, match=r"text/plain; this domain takes a PDF or an image"):
        run("document.invoice", tmp_path / "notes.txt")
    _assert_still_works(run, tmp_path)


def test_classification_takes_images_only(run, tmp_path):
    _assert_still_works(run, tmp_path)
    with pytest.raises(InputRejected, match="image.classification takes images"):
        run("image.classification", tmp_path / "ok.pdf")


def test_unknown_domain_lists_what_is_served(run, tmp_path):
    _assert_still_works(run, tmp_path)
    with pytest.raises(InputRejected, match="document.markdown, document.invoice"):
        run("video.transcription", tmp_path / "ok.pdf")


def test_deadline_is_checked_between_pages(run, tmp_path):
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for i in range(3):
        pdf.add_page()
        pdf.text(20, 20, f"Page {i + 1} of a document that arrives too late")
    pdf.output(str(tmp_path / "three.pdf"))
    import time

    with pytest.raises(JobTimeout, match="time limit at page 1 of three.pdf"):
        run("document.markdown", tmp_path / "three.pdf", deadline=time.monotonic() - 1)


def test_page_indices_out_of_range(run, tmp_path):
    _assert_still_works(run, tmp_path)
    with pytest.raises(InputRejected, match="page index 3 is out of range: ok.pdf has 1 pages"):
        run("document.markdown", tmp_path / "ok.pdf", config={"page_indices": [3]})


def test_deadline_stops_ocr_inside_a_page(run, tmp_path):
    """tesseract is cancelled at the deadline, not left to finish a long page."""
    import time

    from tests.support.invoices import invoice_sample

    page = invoice_sample(5).image(tmp_path / "page.png")
    with pytest.raises(JobTimeout, match="time limit while reading page 1"):
        run("document.markdown", page, deadline=time.monotonic() + 0.02)
    assert run("document.markdown", page).response["pages"][0]["content"]  # and it recovers
