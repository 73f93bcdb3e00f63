"""image.classification: only what can be told offline, every claim backed by a measure."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from tests.support.invoices import _pil_font, invoice_sample


def test_a_scanned_invoice_is_a_document(run, tmp_path):
    path = invoice_sample(2).image(tmp_path / "scan.jpg", scanned=True)
    r = run("image.classification", path).response
    assert r["label"] == "document", r
    assert r["words_read"] > 30 and 0 < r["confidence"] <= 1
    assert r["description"].startswith("a 1654×2339 image of a text document")
    assert "heuristics" in r["decided_by"]


def test_a_blank_image(run, tmp_path):
    Image.new("RGB", (640, 480), (250, 250, 250)).save(tmp_path / "blank.png")
    r = run("image.classification", tmp_path / "blank.png").response
    assert (r["label"], r["words_read"], r["width"], r["height"]) == ("blank", 0, 640, 480)
    assert r["mean_rgb"] == [250, 250, 250]


def test_a_photo_like_image(run, tmp_path):
    rnd = random.Random(3)
    img = Image.new("RGB", (800, 600))
    px = img.load()
    for y in range(600):
        for x in range(800):  # a sky-to-grass gradient with texture: many colours, no text
            px[x, y] = (
                max(0, min(255, 90 + y // 5 + rnd.randint(-30, 30))),
                max(0, min(255, 150 + rnd.randint(-40, 40) - (y > 300) * 20)),
                max(0, min(255, 230 - y // 3 + rnd.randint(-30, 30))),
            )
    img.save(tmp_path / "photo.png")
    r = run("image.classification", tmp_path / "photo.png").response
    assert r["label"] == "photo", r
    assert r["text_sample"] is None or r["words_read"] < 5


def test_a_screenshot_like_image(run, tmp_path):
    img = Image.new("RGB", (1280, 800), (245, 246, 250))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 1280, 60), fill=(40, 90, 200))
    draw.rectangle((0, 60, 240, 800), fill=(230, 232, 238))
    font = _pil_font("sans", False, 22)
    draw.text((20, 18), "Dashboard", font=font, fill=(255, 255, 255))
    for i, label in enumerate(["Overview", "Reports", "Settings"]):
        draw.text((24, 100 + 44 * i), label, font=font, fill=(30, 30, 30))
    draw.rectangle((300, 120, 700, 360), fill=(255, 255, 255), outline=(200, 200, 210))
    draw.text((320, 140), "Active users", font=font, fill=(30, 30, 30))
    img.save(tmp_path / "shot.png")
    r = run("image.classification", tmp_path / "shot.png").response
    assert r["label"] == "screenshot", r
    assert "Dashboard" in (r["text_sample"] or "")


def test_several_images_each_classified(run, tmp_path):
    Image.new("RGB", (64, 64), (0, 0, 0)).save(tmp_path / "a.png")
    Image.new("RGB", (32, 48), (255, 255, 255)).save(tmp_path / "b.png")
    result = run("image.classification", tmp_path / "a.png", tmp_path / "b.png")
    assert [(i["width"], i["height"]) for i in result.response["images"]] == [(64, 64), (32, 48)]
    assert (result.elements, result.element_type) == (2, "image")
