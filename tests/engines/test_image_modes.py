"""Every image mode a file can hold reads as its page does: greyscale, grey with alpha,
bilevel, palette, 16-bit grey, CMYK JPEG and transparent RGBA, in each domain that takes an
image (a greyscale PNG once broke ``image.classification``, a 16-bit one lost its small print).
"""

from __future__ import annotations

import array
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from tests.support.invoices import Sample, invoice_sample, money
from vlmfiles.server.engines.offline import ocr

SEED = 5  # a German CHF invoice, the compat suite's sample


def _save(page: Image.Image, mode: str, tmp_path: Path) -> Path:
    dpi = page.info["dpi"]
    if mode == "CMYK":
        path = tmp_path / "page.jpg"
        page.convert("CMYK").save(path, quality=90, dpi=dpi)
        return path
    if mode == "RGBA":  # dark blue ink on a fully transparent page
        image = Image.new("RGBA", page.size, (20, 30, 90, 0))
        image.putalpha(page.point(lambda v: 255 - v))
    elif mode == "P":
        image = page.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    elif mode == "I;16":  # 0-255 spread over 0-65535, as a 16-bit scanner writes it
        image = page.convert("I").point(lambda v: v * 257).convert("I;16")
    else:
        image = page.convert(mode)
    path = tmp_path / "page.png"
    image.save(path, dpi=dpi)
    with Image.open(path) as saved:
        assert saved.mode == mode  # the file holds the mode under test, not a conversion
    return path


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sample, Image.Image]:
    sample = invoice_sample(SEED)
    path = sample.image(tmp_path_factory.mktemp("page") / "page.png")
    with Image.open(path) as page:
        return sample, page.copy()  # decoded, and independent of the file's handle


MODES = ["L", "LA", "1", "P", "I;16", "CMYK", "RGBA"]


@pytest.mark.parametrize("mode", MODES)
def test_classification_reads_every_mode(run, tmp_path, sample_page, mode):
    sample, page = sample_page
    r = run("image.classification", _save(page, mode, tmp_path)).response
    assert (r["label"], r["mode"]) == ("document", mode), r
    assert sample.expected["invoice_id"] in (r["text_sample"] or ""), r
    assert len(r["mean_rgb"]) == 3 and min(r["mean_rgb"]) > 240  # white paper, in RGB


@pytest.mark.parametrize("mode", MODES)
def test_invoice_fields_read_from_every_mode(run, tmp_path, sample_page, mode):
    sample, page = sample_page
    result = run("document.invoice", _save(page, mode, tmp_path))
    assert result.response["invoice_id"] == sample.expected["invoice_id"]
    assert result.response["total_amount"] == sample.expected["total_amount"]
    assert (result.engine, result.elements, result.element_type) == (
        "offline/tesseract",
        1,
        "image",
    )


@pytest.mark.parametrize("mode", MODES)
def test_markdown_read_from_every_mode(run, tmp_path, sample_page, mode):
    sample, page = sample_page
    (content,) = (
        p["content"]
        for p in run("document.markdown", _save(page, mode, tmp_path)).response["pages"]
    )
    total = money(sample.expected["total_amount"], sample.expected["currency"], sample.lang)
    assert sample.expected["invoice_id"] in content and total in content, content


def _swapped(image: Image.Image) -> bytes:
    values = array.array("H", image.tobytes())
    values.byteswap()
    return values.tobytes()


DEEP: dict[str, Callable[[Image.Image], Image.Image]] = {
    "I;16": lambda g: g.convert("I").point(lambda v: v * 257).convert("I;16"),
    "I;16B": lambda g: Image.frombytes("I;16B", g.size, _swapped(DEEP["I;16"](g))),
    "I 16-bit": lambda g: g.convert("I").point(lambda v: v * 257),
    "I 8-bit": lambda g: g.convert("I"),
    "I signed": lambda g: g.convert("I").point(lambda v: v * 1000 - 100_000),
    "F 0-1": lambda g: g.convert("F").point(lambda v: v / 255),
    "F any": lambda g: g.convert("F").point(lambda v: v * 3.5 - 400),
}


@pytest.mark.parametrize("kind", DEEP)
def test_deep_greys_flatten_to_the_same_eight_bit_page(kind):
    """Pillow's own conversion clips at 255: a 16-bit grey would come out black and white."""
    grey = Image.linear_gradient("L")  # every grey level, 0 to 255
    flat = ocr.flatten(DEEP[kind](grey))
    assert flat.mode == "L"
    assert ImageChops.difference(flat, grey).getextrema() == (0, 0)
