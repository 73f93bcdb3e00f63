"""document.markdown: each page's text in reading order, in the MarkdownDocument shape the
official SDK casts to, with headings and lists where the layout shows them."""

from __future__ import annotations

import pytest
from fpdf import FPDF
from PIL import Image

from tests.support.invoices import _pil_font


def _report(path, pages: int = 2):
    pdf = FPDF()
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 24)
        pdf.cell(0, 14, f"Quarterly Report {n}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, f"Revenue grew in every region during quarter {n}. "
                             "Costs stayed flat while the team shipped two releases.")  # fmt: skip
        pdf.ln(6)
        for item in ("First point", "Second point"):
            pdf.cell(0, 6, f"- {item} on page {n}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)
        pdf.cell(0, 6, f"Closing remarks for page {n}.", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_pdf_pages_in_order_with_heading_paragraph_and_list(run, tmp_path):
    result = run("document.markdown", _report(tmp_path / "report.pdf", pages=3))
    pages = result.response["pages"]
    assert [set(p) for p in pages] == [{"content"}] * 3
    for n, page in enumerate(pages, 1):
        text = page["content"]
        assert text.startswith(f"# Quarterly Report {n}\n\n")
        assert f"- First point on page {n}\n- Second point on page {n}" in text
        order = [text.index(s) for s in ("Quarterly", "Revenue grew", "First point", "Closing")]
        assert order == sorted(order)
    assert (result.elements, result.element_type, result.engine) == (3, "page", "offline/pdfium")


def test_page_indices_select_pages(run, tmp_path):
    result = run("document.markdown", _report(tmp_path / "r.pdf", 3), config={"page_indices": [2]})
    assert [p["content"].splitlines()[0] for p in result.response["pages"]] == [
        "# Quarterly Report 3"
    ]


def test_image_is_read_by_ocr_in_reading_order(run, tmp_path):
    img = Image.new("L", (1400, 900), 255)
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    draw.text((80, 60), "Meeting Notes", font=_pil_font("sans", True, 64), fill=0)
    body = _pil_font("sans", False, 30)
    draw.text((80, 200), "The launch moves to next Tuesday.", font=body, fill=0)
    draw.text((80, 320), "• Update the pricing page", font=body, fill=0)
    draw.text((80, 370), "• Email the beta customers", font=body, fill=0)
    img.save(tmp_path / "notes.png")
    result = run("document.markdown", tmp_path / "notes.png")
    assert result.response == {
        "pages": [
            {
                "content": "# Meeting Notes\n\nThe launch moves to next Tuesday.\n\n"
                "- Update the pricing page\n- Email the beta customers\n"
            }
        ]
    }
    assert result.engine == "offline/tesseract"


def test_scanned_pdf_without_text_layer_is_ocrd(run, tmp_path):
    img = Image.new("L", (1700, 2200), 255)
    from PIL import ImageDraw

    ImageDraw.Draw(img).text(
        (150, 200), "Scanned letter of agreement", font=_pil_font("sans", False, 48), fill=0
    )
    img.save(tmp_path / "scan.png")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(tmp_path / "scan.png"), x=0, y=0, w=210)
    pdf.output(str(tmp_path / "scan.pdf"))
    result = run("document.markdown", tmp_path / "scan.pdf")
    assert "Scanned letter of agreement" in result.response["pages"][0]["content"]
    assert result.engine == "offline/tesseract"


def test_markdown_characters_in_the_text_are_escaped(run, tmp_path):
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 6, "#hashtag and 2*3 = 6 with snake_case", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, "Invoice #42 stays as printed", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "chars.pdf"))
    content = run("document.markdown", tmp_path / "chars.pdf").response["pages"][0]["content"]
    assert content == "\\#hashtag and 2\\*3 = 6 with snake\\_case\nInvoice #42 stays as printed\n"


@pytest.mark.parametrize("pages", [1, 40])
def test_many_pages_each_read(run, tmp_path, pages):
    result = run("document.markdown", _report(tmp_path / "r.pdf", pages))
    assert len(result.response["pages"]) == pages == result.elements


def test_two_columns_in_an_image_read_column_by_column(run, tmp_path):
    from PIL import ImageDraw

    img = Image.new("L", (1700, 1400), 255)
    draw = ImageDraw.Draw(img)
    font = _pil_font("serif", False, 30)
    filler = ["words that fill a column", "of a newsletter page"] * 5
    left = ["The left column starts", *filler, "down to its last line."]
    right = ["The right column is", *filler, "left one has ended."]
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        draw.text((100, 150 + 45 * i), a, font=font, fill=0)
        draw.text((950, 150 + 45 * i), b, font=font, fill=0)
    img.save(tmp_path / "columns.png")
    content = run("document.markdown", tmp_path / "columns.png").response["pages"][0]["content"]
    assert content.index("last line") < content.index("The right column")
    assert content.index("The left column") < content.index("last line")
